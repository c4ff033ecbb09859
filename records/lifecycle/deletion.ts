import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { appendAudit } from '../../audit/index.js';
import { sha256Hex } from '../../queue/canonical-json.js';
import { destroyDerivativeKey, destroyRecordingKey, destroyTrackKey } from '../../queue/keys/data-keys.js';
import type { Logger } from '../../queue/logger.js';
import { listDerivatives } from '../derivatives.js';
import { auditActor, type Principal } from '../principal.js';
import { requireAllowed } from './authorization.js';
import type { Clock } from './clock.js';
import { sqlMs, withTransaction } from './db.js';
import { LifecycleError } from './errors.js';
import { checkId, checkReason, checkReasonCode, type DeletionReasonCode } from './input.js';
import { activeHold, lockRecording } from './legal-hold.js';
import { purgeObjects, type PurgeTarget, type RemovedObject } from './object-purge.js';
import { writeTombstone } from './tombstone.js';

/**
 * Deletion of a whole recording, or of one track of it (one participant redacted), that reaches every
 * copy (ARCHITECTURE.md flow 10, I8):
 *
 *   requested ──► keys-destroyed ──► objects-purged ──► completed (tombstone)
 *
 * 1. **requested**: the deletion row and its audit event are committed before anything is destroyed,
 *    under the recording's row lock, after checking that no legal hold stands (a hold refuses it).
 * 2. **keys-destroyed**: the keys of the derivatives made from it, the track keys (and for a whole
 *    recording the recording key) are destroyed
 *    first — crypto-shredding — so from here on no copy anywhere (old object versions, replicas, backups of
 *    the bucket, an exported ciphertext) can be decrypted, even if the rest is interrupted.
 * 3. **objects-purged**: every object version and delete marker of the track's (or recording's) objects
 *    and of every derivative made from them is removed (object-purge.ts); what was removed is recorded.
 * 4. **completed**: the tombstone (ids, hashes, who, when, why) and the audit event, in one transaction.
 *
 * Each step records its completion before the next starts and is idempotent, so running a deletion again
 * — after a crash, an S3 outage, a killed process — resumes it (`resumeOpenDeletions`, which the retention
 * sweep also calls). One runner at a time per deletion (a PostgreSQL advisory lock). The signed manifest is
 * left as it was signed: it still names the deleted track's hashes, and the tombstone says the track was
 * deleted, when, by whom and why (`chaperone verify` reports it as deleted, not as failed).
 */

export type DeletionScope = 'recording' | 'track';
export type DeletionState = 'requested' | 'keys-destroyed' | 'objects-purged' | 'completed';

export interface Deletion {
  deletionId: string;
  recordingId: string;
  scope: DeletionScope;
  trackId: string | undefined;
  reasonCode: DeletionReasonCode;
  requestedBy: { role: string; id: string };
  requestedAtMs: number;
  state: DeletionState;
  attempts: number;
  lastError: string | undefined;
  completedAtMs: number | undefined;
}

/** A derivative object made from a recording's tracks (records/derivatives.ts lists them). */
export interface DerivativeObject {
  derivativeId: string;
  objectKey: string;
  /** The tracks it was made from; empty: unknown, so it goes with any track. */
  sourceTrackIds: readonly string[];
}

export interface DeletionDeps {
  pool: pg.Pool;
  purge: PurgeTarget;
  clock: Clock;
  logger: Logger;
  /** The recording's derivatives; default: records/derivatives.ts listDerivatives (every state). */
  derivatives?: (db: pg.Pool, recordingId: string) => Promise<readonly DerivativeObject[]>;
}

export interface DeletionRequest {
  recordingId: unknown;
  /** Omitted: the whole recording. */
  trackId?: unknown;
  reasonCode: unknown;
  /** Free text kept in the catalog (the audit log gets its SHA-256); required except for retention. */
  reason?: unknown;
}

function deletionFromRow(r: Record<string, unknown>): Deletion {
  return {
    deletionId: r.deletion_id as string,
    recordingId: r.recording_id as string,
    scope: r.scope as DeletionScope,
    trackId: (r.track_id as string) || undefined,
    reasonCode: r.reason_code as DeletionReasonCode,
    requestedBy: { role: r.requested_by_role as string, id: r.requested_by_id as string },
    requestedAtMs: Number(r.requested_at_ms),
    state: r.state as DeletionState,
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? undefined,
    completedAtMs: sqlMs(r.completed_at_ms) ?? undefined,
  };
}

export async function getDeletion(db: pg.Pool | pg.PoolClient, deletionId: string): Promise<Deletion | undefined> {
  const { rows } = await db.query('select * from recording_deletions where deletion_id = $1', [deletionId]);
  return rows[0] ? deletionFromRow(rows[0]) : undefined;
}

export async function listDeletions(db: pg.Pool | pg.PoolClient, recordingId: string): Promise<Deletion[]> {
  const { rows } = await db.query('select * from recording_deletions where recording_id = $1 order by requested_at_ms, deletion_id', [recordingId]);
  return rows.map(deletionFromRow);
}

/**
 * Records a deletion (not yet acting on it). Refused while the recording is on legal hold. Asking again
 * for the same target returns the deletion already recorded (`created: false`), whatever its state.
 * `reasonCode: 'retention-expired'` is only for the retention sweep (`requestRetentionDeletion`).
 */
export async function requestDeletion(deps: DeletionDeps, principal: Principal, input: DeletionRequest): Promise<{ deletion: Deletion; created: boolean }> {
  const recordingId = checkId('recordingId', input.recordingId);
  const trackId = input.trackId === undefined || input.trackId === null ? undefined : checkId('trackId', input.trackId);
  const reasonCode = checkReasonCode('reasonCode', input.reasonCode);
  const reason = checkReason('reason', input.reason);
  await requireAllowed(deps.pool, principal, 'delete', recordingId, trackId);
  return recordDeletion(deps, principal, recordingId, trackId, reasonCode, reason);
}

/** The retention sweep's request: the service principal, the whole recording, reason `retention-expired`. */
export async function requestRetentionDeletion(deps: DeletionDeps, principal: Principal, recordingId: string): Promise<{ deletion: Deletion; created: boolean }> {
  if (principal.kind !== 'service') throw new LifecycleError('CHAP_RECORDS_FORBIDDEN', 'only the retention service deletes for retention-expired');
  await requireAllowed(deps.pool, principal, 'delete', recordingId);
  return recordDeletion(deps, principal, recordingId, undefined, 'retention-expired', undefined);
}

async function recordDeletion(
  deps: DeletionDeps,
  principal: Principal,
  recordingId: string,
  trackId: string | undefined,
  reasonCode: DeletionReasonCode,
  reason: string | undefined,
): Promise<{ deletion: Deletion; created: boolean }> {
  type Outcome = { deletion: Deletion; created: boolean } | { refused: string; roomId: string };
  const refusal = await withTransaction<Outcome>(deps.pool, async (db) => {
    const { roomId, state } = await lockRecording(db, recordingId);
    const whole = await db.query('select * from recording_deletions where recording_id = $1 and scope = $2', [recordingId, 'recording']);
    if (whole.rows[0]) {
      const existing = deletionFromRow(whole.rows[0]);
      if (trackId === undefined) return { deletion: existing, created: false };
      throw new LifecycleError(
        existing.state === 'completed' ? 'CHAP_RECORDS_DELETED' : 'CHAP_RECORDS_DELETION_IN_PROGRESS',
        `recording ${recordingId} is ${existing.state === 'completed' ? 'deleted' : 'being deleted'} as a whole (deletion ${existing.deletionId}); its tracks go with it`,
      );
    }
    if (trackId !== undefined) {
      const same = await db.query('select * from recording_deletions where recording_id = $1 and scope = $2 and track_id = $3', [recordingId, 'track', trackId]);
      if (same.rows[0]) return { deletion: deletionFromRow(same.rows[0]), created: false };
    }
    if (state !== 'sealed') {
      throw new LifecycleError('CHAP_RECORDS_NOT_SEALED', `recording ${recordingId} is ${state}, not sealed: deletion acts on sealed recordings — wait for sealing to finish (chaperone verify shows its state)`);
    }
    const hold = await activeHold(db, recordingId);
    if (hold) return { refused: hold.holdId, roomId };
    const deletionId = `del-${randomUUID()}`;
    const { rows } = await db.query(
      `insert into recording_deletions (deletion_id, recording_id, scope, track_id, reason_code, reason, requested_by_role, requested_by_id, requested_at_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
      [deletionId, recordingId, trackId === undefined ? 'recording' : 'track', trackId ?? '', reasonCode, reason ?? null, principal.role, principal.subject, deps.clock.now()],
    );
    await appendAudit(db, {
      event: 'recording.deletion-requested',
      actor: auditActor(principal),
      roomId,
      subjectId: recordingId,
      details: { deletionId, scope: trackId === undefined ? 'recording' : 'track', trackId: trackId ?? null, reasonCode, reasonSha256: reason === undefined ? null : sha256Hex(reason) },
    });
    return { deletion: deletionFromRow(rows[0]!), created: true };
  });
  if ('refused' in refusal) {
    // The refusal is itself an event (I7), committed on its own: the transaction above changed nothing.
    await appendAudit(deps.pool, {
      event: 'recording.deletion-requested',
      outcome: 'refused',
      actor: auditActor(principal),
      roomId: refusal.roomId,
      subjectId: recordingId,
      details: { reason: 'legal-hold', holdId: refusal.refused, trackId: trackId ?? null, reasonCode },
    });
    throw new LifecycleError('CHAP_RECORDS_ON_HOLD', `recording ${recordingId} is on legal hold ${refusal.refused}: nothing of it can be deleted until a records officer releases the hold (chaperone release)`);
  }
  return refusal;
}

async function advance(deps: DeletionDeps, deletionId: string, from: DeletionState, to: DeletionState, extra: { purgeReport?: unknown } = {}): Promise<void> {
  await deps.pool.query(
    `update recording_deletions set state = $3, purge_report = coalesce($4::jsonb, purge_report), last_error = null where deletion_id = $1 and state = $2`,
    [deletionId, from, to, extra.purgeReport === undefined ? null : JSON.stringify(extra.purgeReport)],
  );
}

async function destroyKeys(deps: DeletionDeps, deletion: Deletion): Promise<void> {
  const actor = deletion.requestedBy;
  // Derivatives made from what is deleted have keys of their own: destroyed first, with the sources'.
  const derivatives = (await (deps.derivatives ?? catalogDerivatives)(deps.pool, deletion.recordingId)).filter(
    (d) => deletion.scope === 'recording' || d.sourceTrackIds.includes(deletion.trackId!),
  );
  for (const d of derivatives) await destroyDerivativeKey(deps.pool, deletion.recordingId, d.derivativeId, actor);
  if (deletion.scope === 'track') {
    await destroyTrackKey(deps.pool, deletion.recordingId, deletion.trackId!, actor);
    return;
  }
  const { rows } = await deps.pool.query<{ track_id: string }>('select track_id from recording_tracks where recording_id = $1 order by track_id', [deletion.recordingId]);
  for (const { track_id } of rows) await destroyTrackKey(deps.pool, deletion.recordingId, track_id, actor);
  await destroyRecordingKey(deps.pool, deletion.recordingId, actor);
}

/** Every derivative the catalog holds for the recording, whatever its state (a failed render may have left an object). */
async function catalogDerivatives(db: pg.Pool, recordingId: string): Promise<DerivativeObject[]> {
  return (await listDerivatives(db, recordingId)).map((d) => ({ derivativeId: d.derivativeId, objectKey: d.objectKey, sourceTrackIds: [...new Set(d.sources.map((s) => s.trackId))] }));
}

export interface PurgeReport {
  versions: 'listed' | 'unlistable';
  removed: RemovedObject[];
  derivatives: string[];
}

async function purgeStored(deps: DeletionDeps, deletion: Deletion): Promise<PurgeReport> {
  const { recordingId, trackId } = deletion;
  const { rows: segments } = await deps.pool.query<{ object_key: string | null }>(
    `select object_key from recording_segments where recording_id = $1 and ($2::text is null or track_id = $2) and object_key is not null`,
    [recordingId, trackId ?? null],
  );
  const derivatives = (await (deps.derivatives ?? catalogDerivatives)(deps.pool, recordingId)).filter(
    (d) => deletion.scope === 'recording' || d.sourceTrackIds.length === 0 || d.sourceTrackIds.includes(trackId!),
  );
  const exact = new Set<string>(segments.map((s) => s.object_key!));
  for (const d of derivatives) exact.add(d.objectKey);
  if (deletion.scope === 'recording') {
    const { rows } = await deps.pool.query<{ manifest_object_key: string | null }>('select manifest_object_key from recordings where recording_id = $1', [recordingId]);
    if (rows[0]?.manifest_object_key) exact.add(rows[0].manifest_object_key);
  }
  // The layout's prefix catches strays the catalog does not name (a second upload of a retried segment).
  const prefix = deletion.scope === 'recording' ? `recordings/${recordingId}/` : `recordings/${recordingId}/${trackId}/`;
  const report: PurgeReport = { versions: 'listed', removed: [], derivatives: derivatives.map((d) => d.derivativeId) };
  const results = [await purgeObjects(deps.purge, prefix)];
  for (const key of [...exact].sort()) if (!key.startsWith(prefix)) results.push(await purgeObjects(deps.purge, key, { exact: true }));
  for (const result of results) {
    if (result.versions === 'unlistable') report.versions = 'unlistable';
    report.removed.push(...result.removed);
  }
  return report;
}

/**
 * Runs (or resumes) a recorded deletion to completion. Safe to call any number of times, from any process;
 * a second runner while one is active gets CHAP_RECORDS_DELETION_IN_PROGRESS. A failure is recorded on the
 * deletion (`last_error`) and audited, and thrown; the deletion stays where it stopped.
 */
export async function runDeletion(deps: DeletionDeps, deletionId: string): Promise<Deletion> {
  const lock = await deps.pool.connect();
  let locked = false;
  try {
    const { rows } = await lock.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [`chaperone-deletion:${deletionId}`]);
    locked = rows[0]!.ok;
    if (!locked) throw new LifecycleError('CHAP_RECORDS_DELETION_IN_PROGRESS', `deletion ${deletionId} is being run by another process right now; it will finish there`);
    let deletion = await getDeletion(deps.pool, deletionId);
    if (!deletion) throw new LifecycleError('CHAP_RECORDS_BAD_INPUT', `no deletion ${deletionId}`, 'deletionId');
    if (deletion.state === 'completed') return deletion;
    await deps.pool.query('update recording_deletions set attempts = attempts + 1 where deletion_id = $1', [deletionId]);
    const log = deps.logger.child({ deletionId, recordingId: deletion.recordingId, trackId: deletion.trackId ?? null });
    try {
      if (deletion.state === 'requested') {
        await destroyKeys(deps, deletion);
        await advance(deps, deletionId, 'requested', 'keys-destroyed');
        log.info({ step: 'keys-destroyed' }, 'deletion: data keys destroyed');
      }
      deletion = (await getDeletion(deps.pool, deletionId))!;
      if (deletion.state === 'keys-destroyed') {
        const report = await purgeStored(deps, deletion);
        await advance(deps, deletionId, 'keys-destroyed', 'objects-purged', { purgeReport: report });
        log.info({ step: 'objects-purged', removed: report.removed.length, versions: report.versions }, 'deletion: objects purged');
      }
      deletion = (await getDeletion(deps.pool, deletionId))!;
      if (deletion.state === 'objects-purged') {
        await withTransaction(deps.pool, (db) => writeTombstone(db, deletionId, deps.clock.now()));
        log.info({ step: 'completed' }, 'deletion: completed, tombstone written');
      }
      return (await getDeletion(deps.pool, deletionId))!;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'CHAP_RECORDS_STORE_UNAVAILABLE';
      await recordFailure(deps, deletion, code, (error as Error).message).catch(() => undefined);
      log.warn({ code }, 'deletion interrupted; it resumes when run again');
      throw error;
    }
  } finally {
    if (locked) await lock.query('select pg_advisory_unlock(hashtextextended($1, 0))', [`chaperone-deletion:${deletionId}`]).catch(() => undefined);
    lock.release();
  }
}

async function recordFailure(deps: DeletionDeps, deletion: Deletion, code: string, message: string): Promise<void> {
  await withTransaction(deps.pool, async (db) => {
    const { rows } = await db.query<{ room_id: string; state: string }>(
      `update recording_deletions d set last_error = $2 from recordings r where d.deletion_id = $1 and r.recording_id = d.recording_id and d.state <> 'completed' returning r.room_id, d.state`,
      [deletion.deletionId, `${code}: ${message}`.slice(0, 1000)],
    );
    if (!rows[0]) return;
    await appendAudit(db, {
      event: 'recording.deletion-interrupted',
      outcome: 'failed',
      actor: deletion.requestedBy,
      roomId: rows[0].room_id,
      subjectId: deletion.recordingId,
      details: { deletionId: deletion.deletionId, state: rows[0].state, code },
    });
  });
}

/** Request and run at once: what `chaperone delete` and the API do. */
export async function deleteOnRequest(deps: DeletionDeps, principal: Principal, input: DeletionRequest): Promise<Deletion> {
  const { deletion } = await requestDeletion(deps, principal, input);
  return runDeletion(deps, deletion.deletionId);
}

/** Resumes every deletion not completed, oldest first; failures are collected, not thrown. */
export async function resumeOpenDeletions(deps: DeletionDeps): Promise<{ completed: string[]; failed: Array<{ deletionId: string; code: string }> }> {
  const { rows } = await deps.pool.query<{ deletion_id: string }>(`select deletion_id from recording_deletions where state <> 'completed' order by requested_at_ms, deletion_id`);
  const out = { completed: [] as string[], failed: [] as Array<{ deletionId: string; code: string }> };
  for (const { deletion_id } of rows) {
    try {
      await runDeletion(deps, deletion_id);
      out.completed.push(deletion_id);
    } catch (error) {
      out.failed.push({ deletionId: deletion_id, code: (error as { code?: string }).code ?? 'CHAP_RECORDS_STORE_UNAVAILABLE' });
    }
  }
  return out;
}
