import type pg from 'pg';
import { appendAudit } from '../audit/index.js';
import { inTransaction } from '../db/transaction.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { SealError, fromDbError, type SealErrorCode } from './errors.js';
import type { SealRecordingRequest } from './seal-request.js';

/**
 * The recording catalog in PostgreSQL (migration 0200): what was recorded, each segment's progress
 * through hash → store → verify with its hashes and object, and the signed manifest. Every transition is
 * a guarded UPDATE (`where state = <previous>`), so a step that runs twice — a retry, a stalled job picked
 * up by another worker — changes nothing the second time. Audit events are written in the same
 * transaction as the change they record (ARCHITECTURE.md I7).
 */

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type RecordingState = 'spooled' | 'sealing' | 'sealed' | 'failed';
export type SegmentState = 'spooled' | 'hashed' | 'stored' | 'verified';

export interface RecordingRow {
  recordingId: string;
  roomId: string;
  recorderId: string;
  policyId: string;
  policyVersion: number;
  purpose: string;
  retentionDays: number;
  /** 42 CFR Part 2 applies (migration 0201). */
  part2: boolean;
  consentRefs: string[];
  startedAtMs: number;
  endedAtMs: number;
  endReason: string | null;
  trackManifestFile: string | null;
  state: RecordingState;
  failureCode: string | null;
  failureDetail: string | null;
  manifest: string | null;
  manifestSha256: string | null;
  manifestSignature: unknown;
  manifestObjectKey: string | null;
  retentionUntil: Date | null;
  sealedAt: Date | null;
  spoolReleasedAt: Date | null;
}

export interface TrackRow {
  recordingId: string;
  trackId: string;
  participantId: string;
  kind: 'audio' | 'video';
  codec: 'vp8' | 'opus';
  startedAtMs: number;
  endedAtMs: number;
  framesReceived: number;
  framesWritten: number;
  decryptFailures: number;
  gaps: Array<{ atMs: number; durationMs: number }>;
}

export interface SegmentRow {
  recordingId: string;
  trackId: string;
  segmentNo: number;
  spoolFile: string;
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  framesReceived: number;
  framesWritten: number;
  gaps: Array<{ atMs: number; durationMs: number }>;
  session: number | null;
  framesBeforeKeyFrame: number | null;
  writerError: string | null;
  state: SegmentState;
  plaintextSha256: string | null;
  plaintextBytes: number | null;
  ciphertextSha256: string | null;
  ciphertextBytes: number | null;
  objectKey: string | null;
  objectVersionId: string | null;
  objectEtag: string | null;
  sse: string | null;
  keyRef: string | null;
  failureCode: string | null;
  failureDetail: string | null;
  spoolReleasedAt: Date | null;
}

export interface SegmentKey {
  recordingId: string;
  trackId: string;
  segmentNo: number;
}

const SERVICE_ACTOR = { role: 'service', id: 'chaperone-pipeline' } as const;

/** bigint columns come back as strings from node-postgres; every count here fits a JS number. */
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function recordingFromRow(r: Record<string, unknown>): RecordingRow {
  return {
    recordingId: r.recording_id as string,
    roomId: r.room_id as string,
    recorderId: r.recorder_id as string,
    policyId: r.policy_id as string,
    policyVersion: num(r.policy_version),
    purpose: r.purpose as string,
    retentionDays: num(r.retention_days),
    part2: r.part2 === true,
    consentRefs: r.consent_refs as string[],
    startedAtMs: num(r.started_at_ms),
    endedAtMs: num(r.ended_at_ms),
    endReason: (r.end_reason as string | null) ?? null,
    trackManifestFile: (r.track_manifest_file as string | null) ?? null,
    state: r.state as RecordingState,
    failureCode: (r.failure_code as string | null) ?? null,
    failureDetail: (r.failure_detail as string | null) ?? null,
    manifest: (r.manifest as string | null) ?? null,
    manifestSha256: (r.manifest_sha256 as string | null) ?? null,
    manifestSignature: r.manifest_signature ?? null,
    manifestObjectKey: (r.manifest_object_key as string | null) ?? null,
    retentionUntil: (r.retention_until as Date | null) ?? null,
    sealedAt: (r.sealed_at as Date | null) ?? null,
    spoolReleasedAt: (r.spool_released_at as Date | null) ?? null,
  };
}

function trackFromRow(r: Record<string, unknown>): TrackRow {
  return {
    recordingId: r.recording_id as string,
    trackId: r.track_id as string,
    participantId: r.participant_id as string,
    kind: r.kind as 'audio' | 'video',
    codec: r.codec as 'vp8' | 'opus',
    startedAtMs: num(r.started_at_ms),
    endedAtMs: num(r.ended_at_ms),
    framesReceived: num(r.frames_received),
    framesWritten: num(r.frames_written),
    decryptFailures: num(r.decrypt_failures),
    gaps: r.gaps as TrackRow['gaps'],
  };
}

function segmentFromRow(r: Record<string, unknown>): SegmentRow {
  return {
    recordingId: r.recording_id as string,
    trackId: r.track_id as string,
    segmentNo: num(r.segment_no),
    spoolFile: r.spool_file as string,
    startedAtMs: num(r.started_at_ms),
    endedAtMs: num(r.ended_at_ms),
    durationMs: num(r.duration_ms),
    framesReceived: num(r.frames_received),
    framesWritten: num(r.frames_written),
    gaps: r.gaps as SegmentRow['gaps'],
    session: numOrNull(r.session),
    framesBeforeKeyFrame: numOrNull(r.frames_before_key_frame),
    writerError: (r.writer_error as string | null) ?? null,
    state: r.state as SegmentState,
    plaintextSha256: (r.plaintext_sha256 as string | null) ?? null,
    plaintextBytes: numOrNull(r.plaintext_bytes),
    ciphertextSha256: (r.ciphertext_sha256 as string | null) ?? null,
    ciphertextBytes: numOrNull(r.ciphertext_bytes),
    objectKey: (r.object_key as string | null) ?? null,
    objectVersionId: (r.object_version_id as string | null) ?? null,
    objectEtag: (r.object_etag as string | null) ?? null,
    sse: (r.sse as string | null) ?? null,
    keyRef: (r.key_ref as string | null) ?? null,
    failureCode: (r.failure_code as string | null) ?? null,
    failureDetail: (r.failure_detail as string | null) ?? null,
    spoolReleasedAt: (r.spool_released_at as Date | null) ?? null,
  };
}

/** A catalog transaction: failures become SealErrors that say what was being done (`doing`). */
function inCatalogTransaction<T>(pool: pg.Pool, doing: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, fn, { connectFailed: (error) => fromDbError(error, doing), failed: (error) => fromDbError(error, doing) });
}

async function q<R extends pg.QueryResultRow>(db: Queryable, doing: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (error) {
    throw fromDbError(error, doing);
  }
}

export const CATALOG_MIGRATION = '0200_recording_catalog.sql';

/** Refuses to run against a database without the catalog (the service checks this at start). */
export async function assertCatalogMigrated(db: Queryable): Promise<void> {
  let applied = false;
  try {
    const { rows } = await db.query('select 1 from schema_migrations where name = $1', [CATALOG_MIGRATION]);
    applied = rows.length === 1;
  } catch (error) {
    if ((error as { code?: string }).code !== '42P01') throw fromDbError(error, 'check migrations');
  }
  if (!applied) {
    throw new SealError('CHAP_SEAL_CATALOG_STATE', `the database has no recording catalog (migration ${CATALOG_MIGRATION} not applied): run the migrations (db/migrate.ts) before starting the pipeline`, true);
  }
}

export function requestSha256(request: SealRecordingRequest): string {
  return sha256Hex(canonicalJson(request));
}

export type RegisterOutcome = { created: true } | { created: false; state: RecordingState };

/**
 * Records a recording, its tracks and segments, once. A second call with the same request changes nothing;
 * one with a different request for the same id is refused (CHAP_SEAL_RECORDING_CONFLICT): the spool a
 * recording id names cannot change after it was handed over.
 */
export async function registerRecording(pool: pg.Pool, request: SealRecordingRequest): Promise<RegisterOutcome> {
  const digest = requestSha256(request);
  return inCatalogTransaction(pool, 'register recording', async (db) => {
    const inserted = await db.query(
      `insert into recordings (recording_id, room_id, recorder_id, policy_id, policy_version, purpose, retention_days, consent_refs,
         started_at_ms, ended_at_ms, end_reason, track_manifest_file, request_sha256, part2)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       on conflict (recording_id) do nothing returning recording_id`,
      [
        request.recordingId,
        request.roomId,
        request.recorderId,
        request.policy.policyId,
        request.policy.policyVersion,
        request.policy.purpose,
        request.policy.retentionDays,
        request.consentRefs,
        request.startedAtMs,
        request.endedAtMs,
        request.endReason ?? null,
        request.trackManifestFile ?? null,
        digest,
        request.policy.part2,
      ],
    );
    if (inserted.rowCount === 0) {
      const { rows } = await db.query<{ request_sha256: string; state: RecordingState }>('select request_sha256, state from recordings where recording_id = $1', [request.recordingId]);
      if (rows[0]?.request_sha256 !== digest) {
        throw new SealError('CHAP_SEAL_RECORDING_CONFLICT', `recording ${request.recordingId} was already handed over with different content; a recording id names one spool`, true, { field: 'recordingId' });
      }
      return { created: false, state: rows[0].state };
    }
    for (const track of request.tracks) {
      await db.query(
        `insert into recording_tracks (recording_id, track_id, participant_id, kind, codec, started_at_ms, ended_at_ms, frames_received, frames_written, decrypt_failures, gaps)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [request.recordingId, track.trackId, track.participantId, track.kind, track.codec, track.startedAtMs, track.endedAtMs, track.framesReceived, track.framesWritten, track.decryptFailures, JSON.stringify(track.gaps)],
      );
      for (const [i, segment] of track.segments.entries()) {
        await db.query(
          `insert into recording_segments (recording_id, track_id, segment_no, spool_file, started_at_ms, ended_at_ms, duration_ms, frames_received, frames_written, gaps,
             session, frames_before_key_frame, writer_error)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
            request.recordingId,
            track.trackId,
            i + 1,
            segment.file,
            segment.startedAtMs,
            segment.endedAtMs,
            segment.durationMs,
            segment.framesReceived,
            segment.framesWritten,
            JSON.stringify(segment.gaps),
            segment.session ?? null,
            segment.framesBeforeKeyFrame ?? null,
            segment.writerError ?? null,
          ],
        );
      }
    }
    await appendAudit(db, {
      event: 'recording.handed-over',
      actor: SERVICE_ACTOR,
      roomId: request.roomId,
      subjectId: request.recordingId,
      details: { tracks: request.tracks.length, segments: request.tracks.reduce((n, t) => n + t.segments.length, 0), policyVersion: request.policy.policyVersion },
    });
    return { created: true };
  });
}

export async function getRecording(db: Queryable, recordingId: string): Promise<RecordingRow | undefined> {
  const { rows } = await q(db, 'read recording', 'select * from recordings where recording_id = $1', [recordingId]);
  return rows[0] ? recordingFromRow(rows[0]) : undefined;
}

export async function requireRecording(db: Queryable, recordingId: string): Promise<RecordingRow> {
  const recording = await getRecording(db, recordingId);
  if (!recording) throw new SealError('CHAP_SEAL_UNKNOWN_RECORDING', `recording ${recordingId} is not in the catalog: enqueue it with enqueueSealRecording`, true);
  return recording;
}

export async function listTracks(db: Queryable, recordingId: string): Promise<TrackRow[]> {
  const { rows } = await q(db, 'read tracks', 'select * from recording_tracks where recording_id = $1 order by track_id', [recordingId]);
  return rows.map(trackFromRow);
}

export async function listSegments(db: Queryable, recordingId: string): Promise<SegmentRow[]> {
  const { rows } = await q(db, 'read segments', 'select * from recording_segments where recording_id = $1 order by track_id, segment_no', [recordingId]);
  return rows.map(segmentFromRow);
}

export async function getSegment(db: Queryable, key: SegmentKey): Promise<SegmentRow> {
  const { rows } = await q(db, 'read segment', 'select * from recording_segments where recording_id = $1 and track_id = $2 and segment_no = $3', [key.recordingId, key.trackId, key.segmentNo]);
  if (!rows[0]) throw new SealError('CHAP_SEAL_UNKNOWN_RECORDING', `segment ${key.recordingId}/${key.trackId}/${key.segmentNo} is not in the catalog`, true);
  return segmentFromRow(rows[0]);
}

function stateError(key: SegmentKey, expected: string, actual: SegmentState): SealError {
  return new SealError('CHAP_SEAL_CATALOG_STATE', `segment ${key.recordingId}/${key.trackId}/${key.segmentNo} is ${actual}, expected ${expected}`, true);
}

/** spooled → hashed, and the recording spooled → sealing. */
export async function markHashed(pool: pg.Pool, key: SegmentKey, sha256: string, bytes: number): Promise<void> {
  await inCatalogTransaction(pool, 'record plaintext hash', async (db) => {
    const updated = await db.query(
      `update recording_segments set state = 'hashed', plaintext_sha256 = $4, plaintext_bytes = $5, hashed_at = now(), failure_code = null, failure_detail = null
        where recording_id = $1 and track_id = $2 and segment_no = $3 and state = 'spooled'`,
      [key.recordingId, key.trackId, key.segmentNo, sha256, bytes],
    );
    if (updated.rowCount === 0) {
      const current = segmentFromRow((await db.query('select * from recording_segments where recording_id = $1 and track_id = $2 and segment_no = $3', [key.recordingId, key.trackId, key.segmentNo])).rows[0]!);
      if (current.plaintextSha256 !== sha256 || current.plaintextBytes !== bytes) {
        throw new SealError('CHAP_SEAL_HASH_MISMATCH', `spool file of ${key.recordingId}/${key.trackId}/${key.segmentNo} changed after it was hashed (recorded ${current.plaintextSha256}, now ${sha256}); the spool is kept for inspection`, true);
      }
    }
    await db.query(`update recordings set state = 'sealing' where recording_id = $1 and state = 'spooled'`, [key.recordingId]);
  });
}

export interface StoredObject {
  ciphertextSha256: string;
  ciphertextBytes: number;
  objectKey: string;
  objectVersionId: string | undefined;
  objectEtag: string | undefined;
  sse: string | undefined;
  keyRef: string;
}

/** hashed → stored. Returns false when another run got there first (then this run's object is not the one catalogued). */
export async function markStored(db: Queryable, key: SegmentKey, stored: StoredObject): Promise<boolean> {
  const { rowCount } = await q(
    db,
    'record stored object',
    `update recording_segments set state = 'stored', ciphertext_sha256 = $4, ciphertext_bytes = $5, object_key = $6, object_version_id = $7, object_etag = $8,
       sse = $9, key_ref = $10, stored_at = now(), failure_code = null, failure_detail = null
      where recording_id = $1 and track_id = $2 and segment_no = $3 and state = 'hashed'`,
    [key.recordingId, key.trackId, key.segmentNo, stored.ciphertextSha256, stored.ciphertextBytes, stored.objectKey, stored.objectVersionId ?? null, stored.objectEtag ?? null, stored.sse ?? null, stored.keyRef],
  );
  return rowCount === 1;
}

/** stored → verified. */
export async function markVerified(db: Queryable, key: SegmentKey): Promise<void> {
  const { rowCount } = await q(
    db,
    'record verification',
    `update recording_segments set state = 'verified', verified_at = now(), failure_code = null, failure_detail = null
      where recording_id = $1 and track_id = $2 and segment_no = $3 and state = 'stored'`,
    [key.recordingId, key.trackId, key.segmentNo],
  );
  if (rowCount === 0) {
    const current = await getSegment(db, key);
    if (current.state !== 'verified') throw stateError(key, 'stored', current.state);
  }
}

/**
 * Records a failure that ends the flow (permanent, or retries exhausted): the segment keeps its progress
 * and gets the code; the recording becomes `failed` (unless already sealed) with an audit event. The spool
 * is untouched.
 */
export async function markFailed(pool: pg.Pool, recordingId: string, segment: SegmentKey | undefined, code: SealErrorCode, detail: string): Promise<void> {
  await inCatalogTransaction(pool, 'record failure', async (db) => {
    if (segment) {
      await db.query('update recording_segments set failure_code = $4, failure_detail = $5 where recording_id = $1 and track_id = $2 and segment_no = $3', [
        segment.recordingId,
        segment.trackId,
        segment.segmentNo,
        code,
        detail.slice(0, 1000),
      ]);
    }
    const { rows } = await db.query<{ room_id: string }>(
      `update recordings set state = 'failed', failure_code = $2, failure_detail = $3 where recording_id = $1 and state <> 'sealed' returning room_id`,
      [recordingId, code, detail.slice(0, 1000)],
    );
    if (rows[0]) {
      await appendAudit(db, {
        event: 'recording.seal-failed',
        outcome: 'failed',
        actor: SERVICE_ACTOR,
        roomId: rows[0].room_id,
        subjectId: recordingId,
        details: { code, trackId: segment?.trackId ?? null, segmentNo: segment?.segmentNo ?? null },
      });
    }
  });
}

export interface SealedManifest {
  manifest: string;
  manifestSha256: string;
  signature: Record<string, unknown>;
  manifestObjectKey: string;
  retentionUntil: Date;
  bytes: number;
  segments: number;
}

/** sealing → sealed, with the signed manifest, in one transaction with its audit event. */
export async function saveSealedManifest(pool: pg.Pool, recording: RecordingRow, sealed: SealedManifest): Promise<void> {
  await inCatalogTransaction(pool, 'save manifest', async (db) => {
    const { rowCount } = await db.query(
      `update recordings set state = 'sealed', manifest = $2, manifest_sha256 = $3, manifest_signature = $4, manifest_object_key = $5, retention_until = $6,
         sealed_at = now(), failure_code = null, failure_detail = null
        where recording_id = $1 and state in ('spooled', 'sealing', 'failed') and manifest is null`,
      [recording.recordingId, sealed.manifest, sealed.manifestSha256, JSON.stringify(sealed.signature), sealed.manifestObjectKey, sealed.retentionUntil],
    );
    if (rowCount === 0) return;
    await appendAudit(db, {
      event: 'recording.sealed',
      actor: SERVICE_ACTOR,
      roomId: recording.roomId,
      subjectId: recording.recordingId,
      details: { manifestSha256: sealed.manifestSha256, segments: sealed.segments, bytes: sealed.bytes, policyVersion: recording.policyVersion },
    });
  });
}

export async function markSegmentSpoolReleased(db: Queryable, key: SegmentKey): Promise<void> {
  await q(db, 'record spool release', `update recording_segments set spool_released_at = coalesce(spool_released_at, now()) where recording_id = $1 and track_id = $2 and segment_no = $3 and state = 'verified'`, [
    key.recordingId,
    key.trackId,
    key.segmentNo,
  ]);
}

export async function markRecordingSpoolReleased(pool: pg.Pool, recording: RecordingRow): Promise<void> {
  await inCatalogTransaction(pool, 'record spool release', async (db) => {
    const { rowCount } = await db.query(`update recordings set spool_released_at = now() where recording_id = $1 and state = 'sealed' and spool_released_at is null`, [recording.recordingId]);
    if (rowCount === 0) return;
    await appendAudit(db, { event: 'recording.spool-released', actor: SERVICE_ACTOR, roomId: recording.roomId, subjectId: recording.recordingId });
  });
}

export { inCatalogTransaction };
