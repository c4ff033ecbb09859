import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { appendAudit, type Queryable } from '../../audit/index.js';
import { sha256Hex } from '../../queue/canonical-json.js';
import { auditActor, type Principal } from '../principal.js';
import { requireAllowed } from './authorization.js';
import type { Clock } from './clock.js';
import { sqlMs, withTransaction } from './db.js';
import { LifecycleError } from './errors.js';
import { checkId, checkReason } from './input.js';

/**
 * Legal hold: a records officer freezes a recording so that nothing deletes it — neither the retention
 * sweep nor a deletion on request — until a records officer releases it. Placing and releasing need a
 * reason (stored with the hold; the audit log keeps its SHA-256, never the text) and are audited in the
 * same transaction. Both lock the recording's catalog row, as a deletion request does, so a hold and a
 * deletion cannot pass each other: a hold placed first refuses the deletion; a whole-recording deletion
 * already under way refuses the hold (it cannot be stopped half-way: keys may already be destroyed).
 */

export interface LegalHold {
  holdId: string;
  recordingId: string;
  reason: string;
  placedBy: { role: string; id: string };
  placedAtMs: number;
  released: { by: { role: string; id: string }; atMs: number; reason: string } | undefined;
}

export interface HoldDeps {
  pool: pg.Pool;
  clock: Clock;
}

function holdFromRow(r: Record<string, unknown>): LegalHold {
  return {
    holdId: r.hold_id as string,
    recordingId: r.recording_id as string,
    reason: r.reason as string,
    placedBy: { role: r.placed_by_role as string, id: r.placed_by_id as string },
    placedAtMs: Number(r.placed_at_ms),
    released:
      r.released_at_ms === null || r.released_at_ms === undefined
        ? undefined
        : { by: { role: r.released_by_role as string, id: r.released_by_id as string }, atMs: sqlMs(r.released_at_ms)!, reason: r.release_reason as string },
  };
}

export async function activeHold(db: Queryable, recordingId: string): Promise<LegalHold | undefined> {
  const { rows } = await db.query('select * from legal_holds where recording_id = $1 and released_at_ms is null', [recordingId]);
  return rows[0] ? holdFromRow(rows[0]) : undefined;
}

/** Every hold of a recording, oldest first (released ones are history). */
export async function listHolds(db: Queryable, recordingId: string): Promise<LegalHold[]> {
  const { rows } = await db.query('select * from legal_holds where recording_id = $1 order by placed_at_ms, hold_id', [recordingId]);
  return rows.map(holdFromRow);
}

/** Locks the recording's catalog row for the rest of the transaction; refuses an unknown recording. */
export async function lockRecording(db: pg.PoolClient, recordingId: string): Promise<{ roomId: string; state: string }> {
  const { rows } = await db.query<{ room_id: string; state: string }>('select room_id, state from recordings where recording_id = $1 for update', [recordingId]);
  if (!rows[0]) throw new LifecycleError('CHAP_RECORDS_UNKNOWN_RECORDING', `recording ${recordingId} is not in the catalog: check the id (chaperone list)`, 'recordingId');
  return { roomId: rows[0].room_id, state: rows[0].state };
}

export async function placeHold(deps: HoldDeps, principal: Principal, input: { recordingId: unknown; reason: unknown }): Promise<LegalHold> {
  const recordingId = checkId('recordingId', input.recordingId);
  const reason = checkReason('reason', input.reason);
  await requireAllowed(deps.pool, principal, 'hold', recordingId);
  return withTransaction(deps.pool, async (db) => {
    const { roomId } = await lockRecording(db, recordingId);
    const existing = await activeHold(db, recordingId);
    if (existing) {
      throw new LifecycleError('CHAP_RECORDS_ON_HOLD', `recording ${recordingId} is already on legal hold ${existing.holdId} (placed by ${existing.placedBy.id}); one hold at a time — leave it, or release it first`);
    }
    const { rows: deletions } = await db.query<{ deletion_id: string; state: string }>(
      `select deletion_id, state from recording_deletions where recording_id = $1 and scope = 'recording'`,
      [recordingId],
    );
    if (deletions[0]) {
      throw new LifecycleError(
        deletions[0].state === 'completed' ? 'CHAP_RECORDS_DELETED' : 'CHAP_RECORDS_DELETION_IN_PROGRESS',
        `recording ${recordingId} is ${deletions[0].state === 'completed' ? 'deleted' : 'being deleted'} (deletion ${deletions[0].deletion_id}); a hold can no longer stop it`,
      );
    }
    const holdId = `hold-${randomUUID()}`;
    const placedAtMs = deps.clock.now();
    const { rows } = await db.query(
      `insert into legal_holds (hold_id, recording_id, reason, placed_by_role, placed_by_id, placed_at_ms) values ($1, $2, $3, $4, $5, $6) returning *`,
      [holdId, recordingId, reason, principal.role, principal.subject, placedAtMs],
    );
    await appendAudit(db, {
      event: 'recording.hold-placed',
      actor: auditActor(principal),
      roomId,
      subjectId: recordingId,
      occurredAtMs: placedAtMs,
      details: { holdId, reasonSha256: sha256Hex(reason) },
    });
    return holdFromRow(rows[0]!);
  });
}

export async function releaseHold(deps: HoldDeps, principal: Principal, input: { recordingId: unknown; reason: unknown }): Promise<LegalHold> {
  const recordingId = checkId('recordingId', input.recordingId);
  const reason = checkReason('reason', input.reason);
  await requireAllowed(deps.pool, principal, 'release', recordingId);
  return withTransaction(deps.pool, async (db) => {
    const { roomId } = await lockRecording(db, recordingId);
    const releasedAtMs = deps.clock.now();
    const { rows } = await db.query(
      `update legal_holds set released_by_role = $2, released_by_id = $3, released_at_ms = $4, release_reason = $5
        where recording_id = $1 and released_at_ms is null returning *`,
      [recordingId, principal.role, principal.subject, releasedAtMs, reason],
    );
    if (!rows[0]) throw new LifecycleError('CHAP_RECORDS_NO_ACTIVE_HOLD', `recording ${recordingId} is not on legal hold: nothing to release`);
    const hold = holdFromRow(rows[0]);
    await appendAudit(db, {
      event: 'recording.hold-released',
      actor: auditActor(principal),
      roomId,
      subjectId: recordingId,
      occurredAtMs: releasedAtMs,
      details: { holdId: hold.holdId, reasonSha256: sha256Hex(reason), heldMs: releasedAtMs - hold.placedAtMs },
    });
    return hold;
  });
}
