import { SealRequestError } from './errors.js';
import { ID_PATTERN, MAX_SEGMENTS_PER_TRACK } from './jobs.js';

/**
 * What the recorder hands the pipeline when a recording ends: the recording's identifiers, the policy and
 * consent records it ran under, and its finished spool — per participant track, the files (segments) it
 * wrote under `<spool>/<recordingId>/`. The shape follows the recorder's own track manifest
 * (bot/track-manifest.ts), so the recorder can pass its entries as they are. Identifiers only: participant
 * ids are pseudonymous credential ids; there is no field for a display name.
 *
 * This goes to PostgreSQL (the catalog), never to Redis: the flow carries ids only (jobs.ts).
 */

export interface MediaGap {
  /** Media time (ms from the segment's or track's start) where the gap begins. */
  atMs: number;
  durationMs: number;
}

export interface SpooledSegment {
  /** File name inside the recording's spool directory (`<spool>/<recordingId>/<file>`), e.g. "t01-video-s01.webm". */
  file: string;
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  framesReceived: number;
  framesWritten: number;
  gaps: readonly MediaGap[];
  /** Recorder page session (MLS membership) that wrote it. */
  session?: number;
  framesBeforeKeyFrame?: number;
  /** Set by the recorder when its writer died while writing this file (the file holds what was flushed). */
  writerError?: string;
}

export interface SpooledTrack {
  trackId: string;
  /** Pseudonymous participant id (the MLS credential id), never a name. */
  participantId: string;
  kind: 'audio' | 'video';
  codec: 'vp8' | 'opus';
  startedAtMs: number;
  endedAtMs: number;
  framesReceived: number;
  framesWritten: number;
  decryptFailures: number;
  gaps: readonly MediaGap[];
  /** In recording order; may be empty (the participant was present but no frame was written). */
  segments: readonly SpooledSegment[];
}

export interface RecordingPolicyRef {
  policyId: string;
  policyVersion: number;
  /** Purpose code that set the retention clock, e.g. "medical-record". */
  purpose: string;
  retentionDays: number;
  /**
   * 42 CFR Part 2 (substance-use-disorder care): the policy said so, so access to the recording is
   * narrowed (records officers only, no redisclosure without consent). Required: a missing flag must not
   * silently widen access.
   */
  part2: boolean;
}

export interface SealRecordingRequest {
  recordingId: string;
  roomId: string;
  /** The recorder's credential identity in the MLS group. */
  recorderId: string;
  policy: RecordingPolicyRef;
  /** Consent statements (ledger ids) the recording ran under. */
  consentRefs: readonly string[];
  startedAtMs: number;
  endedAtMs: number;
  endReason?: string;
  /** The recorder's own manifest file in the spool directory, removed with the spool once sealed. */
  trackManifestFile?: string;
  tracks: readonly SpooledTrack[];
}

const ROOM_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const PSEUDONYM_PATTERN = /^[\x21-\x7e]{1,128}$/;
const PURPOSE_PATTERN = /^[a-z][a-z-]{0,31}$/;
const CODE_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
const FILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_TRACKS = 256;
const MAX_CONSENT_REFS = 256;
const MAX_GAPS = 1000;
const MAX_RETENTION_DAYS = 36_500;
const MAX_WRITER_ERROR = 512;

type Obj = Record<string, unknown>;

function object(value: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SealRequestError(field, 'must be an object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new SealRequestError(`${field}.${key}`, `is not a known field (known: ${allowed.join(', ')})`);
  }
  return value as Obj;
}

function text(value: unknown, field: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new SealRequestError(field, `must be ${what}`);
  return value;
}

function count(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new SealRequestError(field, 'must be a non-negative integer');
  return value as number;
}

function epochMs(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new SealRequestError(field, 'must be milliseconds since the Unix epoch (integer)');
  return value as number;
}

function array(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new SealRequestError(field, 'must be an array');
  if (value.length > max) throw new SealRequestError(field, `must have at most ${max} entries`);
  return value;
}

function gaps(value: unknown, field: string): MediaGap[] {
  return array(value, field, MAX_GAPS).map((gap, i) => {
    const g = object(gap, `${field}[${i}]`, ['atMs', 'durationMs']);
    return { atMs: count(g.atMs, `${field}[${i}].atMs`), durationMs: count(g.durationMs, `${field}[${i}].durationMs`) };
  });
}

function segment(value: unknown, field: string): SpooledSegment {
  const s = object(value, field, ['file', 'startedAtMs', 'endedAtMs', 'durationMs', 'framesReceived', 'framesWritten', 'gaps', 'session', 'framesBeforeKeyFrame', 'writerError']);
  const file = text(s.file, `${field}.file`, FILE_PATTERN, 'a plain file name in the recording spool directory (letters, digits, . _ -; no path)');
  if (file.includes('..')) throw new SealRequestError(`${field}.file`, 'must not contain ".."');
  const out: SpooledSegment = {
    file,
    startedAtMs: epochMs(s.startedAtMs, `${field}.startedAtMs`),
    endedAtMs: epochMs(s.endedAtMs, `${field}.endedAtMs`),
    durationMs: count(s.durationMs, `${field}.durationMs`),
    framesReceived: count(s.framesReceived, `${field}.framesReceived`),
    framesWritten: count(s.framesWritten, `${field}.framesWritten`),
    gaps: gaps(s.gaps, `${field}.gaps`),
  };
  if (out.endedAtMs < out.startedAtMs) throw new SealRequestError(`${field}.endedAtMs`, 'must not be before startedAtMs');
  if (s.session !== undefined) out.session = count(s.session, `${field}.session`);
  if (s.framesBeforeKeyFrame !== undefined) out.framesBeforeKeyFrame = count(s.framesBeforeKeyFrame, `${field}.framesBeforeKeyFrame`);
  if (s.writerError !== undefined) {
    if (typeof s.writerError !== 'string' || s.writerError.length > MAX_WRITER_ERROR) throw new SealRequestError(`${field}.writerError`, `must be a string of at most ${MAX_WRITER_ERROR} characters`);
    out.writerError = s.writerError;
  }
  return out;
}

function track(value: unknown, field: string): SpooledTrack {
  const t = object(value, field, ['trackId', 'participantId', 'kind', 'codec', 'startedAtMs', 'endedAtMs', 'framesReceived', 'framesWritten', 'decryptFailures', 'gaps', 'segments']);
  const kind = t.kind;
  if (kind !== 'audio' && kind !== 'video') throw new SealRequestError(`${field}.kind`, 'must be "audio" or "video"');
  const codec = t.codec;
  if (!(kind === 'video' && codec === 'vp8') && !(kind === 'audio' && codec === 'opus')) {
    throw new SealRequestError(`${field}.codec`, 'must be "vp8" for video or "opus" for audio (the codec profile the recorder writes)');
  }
  const out: SpooledTrack = {
    trackId: text(t.trackId, `${field}.trackId`, ID_PATTERN, 'an id of 1–64 letters, digits, _ or - (starting with a letter or digit)'),
    participantId: text(t.participantId, `${field}.participantId`, PSEUDONYM_PATTERN, 'a pseudonymous id (1–128 printable ASCII, no spaces)'),
    kind,
    codec,
    startedAtMs: epochMs(t.startedAtMs, `${field}.startedAtMs`),
    endedAtMs: epochMs(t.endedAtMs, `${field}.endedAtMs`),
    framesReceived: count(t.framesReceived, `${field}.framesReceived`),
    framesWritten: count(t.framesWritten, `${field}.framesWritten`),
    decryptFailures: count(t.decryptFailures, `${field}.decryptFailures`),
    gaps: gaps(t.gaps, `${field}.gaps`),
    segments: array(t.segments, `${field}.segments`, MAX_SEGMENTS_PER_TRACK).map((s, i) => segment(s, `${field}.segments[${i}]`)),
  };
  if (out.endedAtMs < out.startedAtMs) throw new SealRequestError(`${field}.endedAtMs`, 'must not be before startedAtMs');
  return out;
}

/**
 * Validates a request at the boundary and returns a clean copy (the caller's object is never kept or
 * changed). Errors are SealRequestError naming the field: `tracks[1].segments[0].file: must be ...`.
 */
export function parseSealRecordingRequest(value: unknown): SealRecordingRequest {
  const r = object(value, 'request', ['recordingId', 'roomId', 'recorderId', 'policy', 'consentRefs', 'startedAtMs', 'endedAtMs', 'endReason', 'trackManifestFile', 'tracks']);
  const p = object(r.policy, 'policy', ['policyId', 'policyVersion', 'purpose', 'retentionDays', 'part2']);
  if (typeof p.part2 !== 'boolean') throw new SealRequestError('policy.part2', 'must be true or false (42 CFR Part 2 applies to this recording)');
  const retentionDays = count(p.retentionDays, 'policy.retentionDays');
  if (retentionDays < 1 || retentionDays > MAX_RETENTION_DAYS) throw new SealRequestError('policy.retentionDays', `must be 1 to ${MAX_RETENTION_DAYS}`);
  const policyVersion = count(p.policyVersion, 'policy.policyVersion');
  if (policyVersion < 1) throw new SealRequestError('policy.policyVersion', 'must be a positive integer');
  const out: SealRecordingRequest = {
    recordingId: text(r.recordingId, 'recordingId', ID_PATTERN, 'an id of 1–64 letters, digits, _ or - (starting with a letter or digit)'),
    roomId: text(r.roomId, 'roomId', ROOM_PATTERN, 'a room id (1–128 of A-Z a-z 0-9 . _ : -)'),
    recorderId: text(r.recorderId, 'recorderId', PSEUDONYM_PATTERN, 'the recorder credential id (1–128 printable ASCII)'),
    policy: {
      policyId: text(p.policyId, 'policy.policyId', ROOM_PATTERN, 'a policy id (1–128 of A-Z a-z 0-9 . _ : -)'),
      policyVersion,
      purpose: text(p.purpose, 'policy.purpose', PURPOSE_PATTERN, 'a purpose code such as "medical-record"'),
      retentionDays,
      part2: p.part2,
    },
    consentRefs: array(r.consentRefs, 'consentRefs', MAX_CONSENT_REFS).map((c, i) => text(c, `consentRefs[${i}]`, PSEUDONYM_PATTERN, 'a consent statement id')),
    startedAtMs: epochMs(r.startedAtMs, 'startedAtMs'),
    endedAtMs: epochMs(r.endedAtMs, 'endedAtMs'),
    tracks: array(r.tracks, 'tracks', MAX_TRACKS).map((t, i) => track(t, `tracks[${i}]`)),
  };
  if (out.endedAtMs < out.startedAtMs) throw new SealRequestError('endedAtMs', 'must not be before startedAtMs');
  if (r.endReason !== undefined) out.endReason = text(r.endReason, 'endReason', CODE_PATTERN, 'a lowercase code such as "stopped"');
  if (r.trackManifestFile !== undefined) {
    out.trackManifestFile = text(r.trackManifestFile, 'trackManifestFile', FILE_PATTERN, 'a plain file name in the recording spool directory');
  }
  const trackIds = new Set<string>();
  const files = new Set<string>(out.trackManifestFile ? [out.trackManifestFile] : []);
  out.tracks.forEach((t, i) => {
    if (trackIds.has(t.trackId)) throw new SealRequestError(`tracks[${i}].trackId`, `duplicates another track (${t.trackId})`);
    trackIds.add(t.trackId);
    t.segments.forEach((s, j) => {
      if (files.has(s.file)) throw new SealRequestError(`tracks[${i}].segments[${j}].file`, `names a file already listed (${s.file})`);
      files.add(s.file);
    });
  });
  return out;
}
