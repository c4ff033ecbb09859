import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { appendAudit } from '../audit/index.js';
import { getRecording, listSegments, type Queryable } from './catalog.js';
import { decryptingStream, manifestObjectContext, segmentObjectContext } from './envelope.js';
import { asSealError } from './errors.js';
import { openDataKey } from './keys/data-keys.js';
import type { KeyRoot } from './keys/key-root.js';
import { verifyManifest, type RecordingManifest } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { readBack } from './read-back.js';

/**
 * Re-checks a sealed recording end to end, trusting nothing but the signature: the manifest must be
 * canonical, hash to what was signed and verify (and the key should be a trusted one); then every object
 * the manifest lists is read back, decrypted and both its SHA-256 values and sizes compared with the
 * manifest; the catalog is cross-checked against the manifest; the encrypted manifest copy in S3 must hold
 * the same manifest. Each problem names the track and segment. The check is audited (a read, I7).
 */

export interface SegmentVerdict {
  trackId: string;
  segmentNo: number;
  objectKey: string;
  ok: boolean;
  problems: string[];
  plaintextBytes: number;
  /** Set when the track was deleted (a tombstone says so): then `ok` means its objects are really gone. */
  deleted?: { deletionId: string; deletedAtMs: number };
}

export interface VerifyReport {
  recordingId: string;
  ok: boolean;
  state: string | undefined;
  manifest: { valid: boolean; trusted: boolean | undefined; keyId: string | undefined; sha256: string | undefined; problems: string[] };
  manifestCopy: { ok: boolean; problem?: string };
  segments: SegmentVerdict[];
  /** Problems not tied to one segment. */
  problems: string[];
  totals: { segments: number; plaintextBytes: number; ciphertextBytes: number };
  /** Set when the whole recording was deleted (per its tombstone). */
  deleted?: { deletionId: string; deletedAtMs: number };
}

/** What the records lifecycle deleted of a recording (records/lifecycle/tombstone.ts deletedParts). */
export interface DeletedParts {
  recording: { deletionId: string; deletedAtMs: number } | undefined;
  tracks: ReadonlyMap<string, { deletionId: string; deletedAtMs: number }>;
}

export interface VerifyProgress {
  trackId: string;
  segmentNo: number;
  segmentIndex: number;
  segmentCount: number;
  bytesDone: number;
  bytesTotal: number;
  allBytesDone: number;
  allBytesTotal: number;
}

export interface VerifyDeps {
  db: Queryable;
  store: ObjectStore;
  keyRoot: KeyRoot;
  /** DER SPKI public keys whose manifest signatures are trusted; undefined: trust is not judged. */
  trustedSignerKeys?: readonly Buffer[];
  /** Who ran the check, for the audit log; omitted: not audited. */
  auditActor?: { role: string; id: string };
  /**
   * Deletions recorded by the records lifecycle. A deleted track (or recording) is not read back: its
   * objects must be gone and its key destroyed, and it is reported as deleted per its tombstone rather
   * than failed; the signed manifest still lists it (it was signed before the deletion).
   */
  deletions?: (recordingId: string) => Promise<DeletedParts>;
}

export async function verifyRecording(deps: VerifyDeps, recordingId: string, onProgress?: (progress: VerifyProgress) => void): Promise<VerifyReport> {
  const report: VerifyReport = {
    recordingId,
    ok: false,
    state: undefined,
    manifest: { valid: false, trusted: undefined, keyId: undefined, sha256: undefined, problems: [] },
    manifestCopy: { ok: false },
    segments: [],
    problems: [],
    totals: { segments: 0, plaintextBytes: 0, ciphertextBytes: 0 },
  };
  const recording = await getRecording(deps.db, recordingId);
  if (!recording) {
    report.problems.push(`recording ${recordingId} is not in the catalog`);
    return report;
  }
  report.state = recording.state;
  if (recording.state !== 'sealed' || !recording.manifest) {
    report.problems.push(`recording is ${recording.state}, not sealed${recording.failureCode ? ` (${recording.failureCode}: ${recording.failureDetail})` : ''}`);
    return report;
  }
  const check = verifyManifest(recording.manifest, recording.manifestSignature, deps.trustedSignerKeys);
  report.manifest = { valid: check.valid, trusted: check.trusted, keyId: check.keyId, sha256: recording.manifestSha256 ?? undefined, problems: check.problems };
  if (check.trusted === false) report.manifest.problems.push(`manifest is signed by ${check.keyId}, which is not a trusted signing key`);
  const manifest: RecordingManifest | undefined = check.manifest;
  if (!manifest || !Array.isArray(manifest.tracks)) {
    report.problems.push('manifest cannot be read; objects were not checked');
    return finish(deps, report, recording.roomId);
  }
  if (manifest.recordingId !== recordingId) report.problems.push(`manifest names recording ${manifest.recordingId}`);

  const catalog = await listSegments(deps.db, recordingId);
  const deletions = (await deps.deletions?.(recordingId)) ?? { recording: undefined, tracks: new Map() };
  if (deletions.recording) report.deleted = { deletionId: deletions.recording.deletionId, deletedAtMs: deletions.recording.deletedAtMs };
  const listed = manifest.tracks.flatMap((track) => track.segments.map((segment) => ({ track, segment })));
  const allBytesTotal = listed.reduce((n, { segment }) => n + segment.ciphertext.bytes, 0);
  let allBytesDone = 0;
  for (const [index, { track, segment }] of listed.entries()) {
    const verdict: SegmentVerdict = { trackId: track.trackId, segmentNo: segment.segmentNo, objectKey: segment.object.key, ok: false, problems: [], plaintextBytes: segment.plaintext.bytes };
    report.segments.push(verdict);
    const row = catalog.find((s) => s.trackId === track.trackId && s.segmentNo === segment.segmentNo);
    if (!row) verdict.problems.push('not in the catalog');
    else {
      if (row.plaintextSha256 !== segment.plaintext.sha256) verdict.problems.push('catalog plaintext SHA-256 differs from the manifest');
      if (row.ciphertextSha256 !== segment.ciphertext.sha256) verdict.problems.push('catalog ciphertext SHA-256 differs from the manifest');
      if (row.objectKey !== segment.object.key) verdict.problems.push('catalog object key differs from the manifest');
    }
    const emit = (bytesDone: number) =>
      onProgress?.({ trackId: track.trackId, segmentNo: segment.segmentNo, segmentIndex: index, segmentCount: listed.length, bytesDone, bytesTotal: segment.ciphertext.bytes, allBytesDone: allBytesDone + bytesDone, allBytesTotal });
    emit(0);
    const deletedBy = deletions.recording ?? deletions.tracks.get(track.trackId);
    if (deletedBy) {
      verdict.deleted = { deletionId: deletedBy.deletionId, deletedAtMs: deletedBy.deletedAtMs };
      const left = await storedObjectLeft(deps, segment.object.key, segment.object.versionId);
      if (left) verdict.problems.push(`deleted per tombstone ${deletedBy.deletionId}, but ${left}`);
      verdict.ok = verdict.problems.length === 0;
      report.totals.segments++;
      allBytesDone += segment.ciphertext.bytes;
      continue;
    }
    try {
      if (!track.keyRef) throw new Error('manifest names no key for this track');
      const read = await readBack({
        db: deps.db,
        store: deps.store,
        keyRoot: deps.keyRoot,
        objectKey: segment.object.key,
        versionId: segment.object.versionId,
        keyRef: track.keyRef,
        expectedContext: segmentObjectContext(recordingId, track.trackId, segment.segmentNo),
        onProgress: emit,
      });
      report.totals.ciphertextBytes += read.ciphertextBytes;
      if (read.ciphertextSha256 !== segment.ciphertext.sha256 || read.ciphertextBytes !== segment.ciphertext.bytes) {
        verdict.problems.push(`stored object differs from the sealed one (ciphertext SHA-256 ${read.ciphertextSha256}, ${read.ciphertextBytes} bytes; manifest ${segment.ciphertext.sha256}, ${segment.ciphertext.bytes} bytes)`);
      }
      if (read.plaintextSha256 !== segment.plaintext.sha256 || read.plaintextBytes !== segment.plaintext.bytes) {
        verdict.problems.push(`decrypted bytes differ from the recording (plaintext SHA-256 ${read.plaintextSha256}; manifest ${segment.plaintext.sha256})`);
      }
    } catch (error) {
      const failure = asSealError(error);
      verdict.problems.push(`${failure.code}: ${failure.message}`);
    }
    allBytesDone += segment.ciphertext.bytes;
    verdict.ok = verdict.problems.length === 0;
    report.totals.segments++;
    report.totals.plaintextBytes += segment.plaintext.bytes;
  }
  const unlisted = catalog.filter((s) => !listed.some(({ track, segment }) => track.trackId === s.trackId && segment.segmentNo === s.segmentNo));
  if (unlisted.length) report.problems.push(`catalog has ${unlisted.length} segment(s) the manifest does not list`);
  if (deletions.recording) {
    // A deleted recording's manifest copy goes with it (its key is destroyed).
    const left = recording.manifestObjectKey ? await storedObjectLeft(deps, recording.manifestObjectKey, undefined) : undefined;
    report.manifestCopy = left ? { ok: false, problem: `recording deleted, but ${left}` } : { ok: true };
  } else {
    report.manifestCopy = await checkManifestCopy(deps, recordingId, recording.manifestObjectKey, recording.manifest);
  }
  return finish(deps, report, recording.roomId);
}

/** undefined when the object is gone (S3 says it does not exist); else what is left. */
async function storedObjectLeft(deps: VerifyDeps, objectKey: string, versionId: string | undefined): Promise<string | undefined> {
  try {
    const { body } = await deps.store.getStream(objectKey, versionId);
    body.destroy();
    return `object ${objectKey} is still stored`;
  } catch (error) {
    const failure = asSealError(error);
    return failure.code === 'CHAP_SEAL_S3_OBJECT_MISSING' ? undefined : `object ${objectKey} could not be checked (${failure.code})`;
  }
}

async function checkManifestCopy(deps: VerifyDeps, recordingId: string, objectKey: string | null, manifestText: string): Promise<{ ok: boolean; problem?: string }> {
  if (!objectKey) return { ok: false, problem: 'no manifest copy recorded' };
  try {
    const { rows } = await deps.db.query<{ key_ref: string }>(`select key_ref from recording_keys where recording_id = $1 and scope = 'recording'`, [recordingId]);
    if (!rows[0]) return { ok: false, problem: 'no recording key' };
    const key = await openDataKey(deps.db, deps.keyRoot, rows[0].key_ref);
    try {
      const { body } = await deps.store.getStream(objectKey);
      const chunks: Buffer[] = [];
      const decrypt = decryptingStream(key);
      let contextOk = true;
      decrypt.once('MessageHeader', (header: { encryptionContext: Record<string, string> }) => {
        const expected = manifestObjectContext(recordingId);
        contextOk = Object.entries(expected).every(([k, v]) => header.encryptionContext[k] === v);
      });
      await pipeline(body, decrypt, new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) }));
      if (!contextOk) return { ok: false, problem: 'manifest copy has another encryption context' };
      const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { manifest?: string };
      return bundle.manifest === manifestText ? { ok: true } : { ok: false, problem: 'manifest copy in S3 differs from the catalog manifest' };
    } finally {
      key.dispose();
    }
  } catch (error) {
    const failure = asSealError(error);
    return { ok: false, problem: `${failure.code}: ${failure.message}` };
  }
}

async function finish(deps: VerifyDeps, report: VerifyReport, roomId: string): Promise<VerifyReport> {
  report.ok =
    report.problems.length === 0 &&
    report.manifest.valid &&
    report.manifest.trusted !== false &&
    report.manifestCopy.ok &&
    report.segments.every((s) => s.ok);
  if (deps.auditActor) {
    await appendAudit(deps.db, {
      event: 'recording.verified',
      outcome: report.ok ? 'ok' : 'failed',
      actor: deps.auditActor,
      roomId,
      subjectId: report.recordingId,
      details: {
        segments: report.totals.segments,
        failedSegments: report.segments.filter((s) => !s.ok).length,
        deletedSegments: report.segments.filter((s) => s.deleted).length,
        manifestValid: report.manifest.valid,
      },
    });
  }
  return report;
}
