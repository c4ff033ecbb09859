import type pg from 'pg';
import { appendAudit, type Queryable } from '../../audit/index.js';
import { canonicalJson, sha256Hex } from '../../queue/canonical-json.js';

/**
 * What the catalog keeps of a deletion once it is complete: a tombstone that says what existed (ids,
 * plaintext and ciphertext SHA-256 and sizes, object keys), what was removed (every object version and
 * delete marker, the data keys destroyed, derivatives), who asked, when and why — and nothing playable
 * (the keys are gone, the objects are gone). Append-only (migration 0310 refuses UPDATE and DELETE). Its
 * `content` is canonical JSON and `content_sha256` its hash, which the audit event carries, so an altered
 * tombstone no longer matches the hash-chained log.
 */

export const TOMBSTONE_FORMAT = 'chaperone-tombstone/v1';

export interface Tombstone {
  deletionId: string;
  recordingId: string;
  scope: 'recording' | 'track';
  trackId: string | undefined;
  participantId: string | undefined;
  reasonCode: string;
  deletedBy: { role: string; id: string };
  requestedAtMs: number;
  deletedAtMs: number;
  manifestSha256: string | undefined;
  content: TombstoneContent;
  contentSha256: string;
}

export interface TombstoneContent {
  format: typeof TOMBSTONE_FORMAT;
  deletionId: string;
  recordingId: string;
  scope: 'recording' | 'track';
  trackId: string | null;
  tracks: Array<{
    trackId: string;
    participantId: string;
    segments: Array<{ segmentNo: number; objectKey: string | null; plaintextSha256: string | null; plaintextBytes: number | null; ciphertextSha256: string | null; ciphertextBytes: number | null }>;
  }>;
  keysDestroyed: Array<{ keyRef: string; scope: string; trackId: string | null }>;
  objectsRemoved: Array<{ key: string; versionId: string | null; deleteMarker: boolean }>;
  versions: 'listed' | 'unlistable';
  derivativesRemoved: string[];
}

function tombstoneFromRow(r: Record<string, unknown>): Tombstone {
  return {
    deletionId: r.deletion_id as string,
    recordingId: r.recording_id as string,
    scope: r.scope as 'recording' | 'track',
    trackId: (r.track_id as string) || undefined,
    participantId: (r.participant_id as string | null) ?? undefined,
    reasonCode: r.reason_code as string,
    deletedBy: { role: r.deleted_by_role as string, id: r.deleted_by_id as string },
    requestedAtMs: Number(r.requested_at_ms),
    deletedAtMs: Number(r.deleted_at_ms),
    manifestSha256: (r.manifest_sha256 as string | null) ?? undefined,
    content: JSON.parse(r.content as string) as TombstoneContent,
    contentSha256: r.content_sha256 as string,
  };
}

export async function listTombstones(db: Queryable, recordingId: string): Promise<Tombstone[]> {
  const { rows } = await db.query('select * from recording_tombstones where recording_id = $1 order by deleted_at_ms, deletion_id', [recordingId]);
  return rows.map(tombstoneFromRow);
}

/** What `chaperone verify` needs: is the whole recording deleted, and which tracks are. */
export async function deletedParts(db: Queryable, recordingId: string): Promise<{ recording: Tombstone | undefined; tracks: Map<string, Tombstone> }> {
  const tombstones = await listTombstones(db, recordingId);
  const recording = tombstones.find((t) => t.scope === 'recording');
  const tracks = new Map<string, Tombstone>();
  for (const t of tombstones) if (t.scope === 'track') tracks.set(t.trackId!, t);
  return { recording, tracks };
}

/**
 * Completes a deletion whose objects are purged: writes the tombstone, marks the deletion completed and
 * appends the audit event — one transaction (`db` is a client inside it). Does nothing if another runner
 * completed it first.
 */
export async function writeTombstone(db: pg.PoolClient, deletionId: string, nowMs: number): Promise<boolean> {
  const { rows: locked } = await db.query<Record<string, unknown>>(
    `select d.*, r.room_id, r.manifest_sha256 from recording_deletions d join recordings r using (recording_id) where d.deletion_id = $1 for update of d`,
    [deletionId],
  );
  const d = locked[0];
  if (!d || d.state !== 'objects-purged') return false;
  const recordingId = d.recording_id as string;
  const trackId = (d.track_id as string) || null;
  const { rows: tracks } = await db.query<{ track_id: string; participant_id: string }>(
    'select track_id, participant_id from recording_tracks where recording_id = $1 and ($2::text is null or track_id = $2) order by track_id',
    [recordingId, trackId],
  );
  const { rows: segments } = await db.query<Record<string, unknown>>(
    `select track_id, segment_no, object_key, plaintext_sha256, plaintext_bytes, ciphertext_sha256, ciphertext_bytes from recording_segments
      where recording_id = $1 and ($2::text is null or track_id = $2) order by track_id, segment_no`,
    [recordingId, trackId],
  );
  const { rows: keys } = await db.query<{ key_ref: string; scope: string; track_id: string }>(
    `select key_ref, scope, track_id from recording_keys where recording_id = $1 and destroyed_at is not null
       and (($2::text is null) or (scope = 'track' and track_id = $2) or (scope = 'derivative' and track_id = any($3::text[]))) order by scope, track_id`,
    [recordingId, trackId, (d.purge_report as { derivatives?: string[] } | null)?.derivatives ?? []],
  );
  const report = (d.purge_report ?? { versions: 'listed', removed: [], derivatives: [] }) as { versions: 'listed' | 'unlistable'; removed: TombstoneContent['objectsRemoved']; derivatives: string[] };
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const content: TombstoneContent = {
    format: TOMBSTONE_FORMAT,
    deletionId,
    recordingId,
    scope: d.scope as 'recording' | 'track',
    trackId,
    tracks: tracks.map((t) => ({
      trackId: t.track_id,
      participantId: t.participant_id,
      segments: segments
        .filter((s) => s.track_id === t.track_id)
        .map((s) => ({
          segmentNo: Number(s.segment_no),
          objectKey: (s.object_key as string | null) ?? null,
          plaintextSha256: (s.plaintext_sha256 as string | null) ?? null,
          plaintextBytes: n(s.plaintext_bytes),
          ciphertextSha256: (s.ciphertext_sha256 as string | null) ?? null,
          ciphertextBytes: n(s.ciphertext_bytes),
        })),
    })),
    keysDestroyed: keys.map((k) => ({ keyRef: k.key_ref, scope: k.scope, trackId: k.track_id || null })),
    objectsRemoved: report.removed.map((o) => ({ key: o.key, versionId: o.versionId, deleteMarker: o.deleteMarker })),
    versions: report.versions,
    derivativesRemoved: report.derivatives,
  };
  const text = canonicalJson(content);
  const contentSha256 = sha256Hex(text);
  await db.query(
    `insert into recording_tombstones (deletion_id, recording_id, scope, track_id, participant_id, reason_code, deleted_by_role, deleted_by_id, requested_at_ms, deleted_at_ms, manifest_sha256, content, content_sha256)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      deletionId,
      recordingId,
      d.scope,
      trackId ?? '',
      trackId ? (tracks[0]?.participant_id ?? null) : null,
      d.reason_code,
      d.requested_by_role,
      d.requested_by_id,
      d.requested_at_ms,
      nowMs,
      d.manifest_sha256 ?? null,
      text,
      contentSha256,
    ],
  );
  await db.query(`update recording_deletions set state = 'completed', completed_at_ms = $2, last_error = null where deletion_id = $1 and state = 'objects-purged'`, [deletionId, nowMs]);
  // The derivatives' objects are gone; their catalog rows say so (records/derivatives.ts refuses to play them).
  if (report.derivatives.length) {
    await db.query(`update recording_derivatives set state = 'deleted', deleted_at = now() where derivative_id = any($1) and state <> 'deleted'`, [report.derivatives]);
  }
  await appendAudit(db, {
    event: d.scope === 'recording' ? 'recording.deleted' : 'recording.track-deleted',
    actor: { role: d.requested_by_role as string, id: d.requested_by_id as string },
    roomId: d.room_id as string,
    subjectId: recordingId,
    details: {
      deletionId,
      trackId,
      reasonCode: d.reason_code as string,
      objectsRemoved: content.objectsRemoved.length,
      keysDestroyed: content.keysDestroyed.length,
      derivativesRemoved: content.derivativesRemoved.length,
      versions: report.versions,
      tombstoneSha256: contentSha256,
    },
  });
  return true;
}
