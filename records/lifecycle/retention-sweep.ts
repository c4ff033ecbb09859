import { appendAudit } from '../../audit/index.js';
import { inTransaction } from '../../db/transaction.js';
import { servicePrincipal, type Principal } from '../principal.js';
import { resumeOpenDeletions, requestRetentionDeletion, runDeletion, type DeletionDeps } from './deletion.js';

/**
 * One pass of the retention clock. Each sealed recording carries its deadline (`retention_until`, set at
 * sealing from its policy: end of recording + retention days, and signed into the manifest). A pass:
 *
 * 1. resumes every deletion left unfinished (a crash, an S3 outage) — so an interrupted deletion always
 *    completes, whoever started it;
 * 2. finds sealed recordings whose deadline is at or before `clock.now()` and which are not deleted;
 * 3. for each: on legal hold → kept, and the first time a hold blocks the clock that is audited
 *    (`retention.deletion-blocked`, once per hold, not once per pass); otherwise → deleted as the
 *    `chaperone-retention` service principal, reason `retention-expired` (deletion.ts; audited there).
 *
 * The clock is injected (deps.clock), so a test sets "now" past a deadline instead of waiting for it.
 */

export const RETENTION_SERVICE = 'chaperone-retention';

export interface SweepResult {
  nowMs: number;
  deleted: string[];
  held: string[];
  /** Recording ids (or, for resumed deletions, deletion ids) that failed this pass, with the code. */
  failed: Array<{ id: string; code: string }>;
  resumed: string[];
}

export async function sweepRetention(deps: DeletionDeps, options: { batch?: number; principal?: Principal } = {}): Promise<SweepResult> {
  const principal = options.principal ?? servicePrincipal(RETENTION_SERVICE);
  const nowMs = deps.clock.now();
  const resumed = await resumeOpenDeletions(deps);
  const result: SweepResult = { nowMs, deleted: [], held: [], failed: resumed.failed.map((f) => ({ id: f.deletionId, code: f.code })), resumed: resumed.completed };
  const { rows } = await deps.pool.query<{ recording_id: string; room_id: string; hold_id: string | null; blocked: string | null }>(
    `select r.recording_id, r.room_id, h.hold_id, h.retention_blocked_at_ms::text as blocked
       from recordings r
       left join legal_holds h on h.recording_id = r.recording_id and h.released_at_ms is null
      where r.state = 'sealed' and r.retention_until is not null and r.retention_until <= to_timestamp($1::double precision / 1000)
        and not exists (select 1 from recording_deletions d where d.recording_id = r.recording_id and d.scope = 'recording')
      order by r.retention_until, r.recording_id
      limit $2`,
    [nowMs, options.batch ?? 500],
  );
  for (const row of rows) {
    if (row.hold_id) {
      result.held.push(row.recording_id);
      if (row.blocked === null) {
        await inTransaction(deps.pool, async (client) => {
          const marked = await client.query('update legal_holds set retention_blocked_at_ms = $2 where hold_id = $1 and retention_blocked_at_ms is null and released_at_ms is null', [row.hold_id, nowMs]);
          if (marked.rowCount === 1) {
            await appendAudit(client, {
              event: 'retention.deletion-blocked',
              outcome: 'refused',
              actor: { role: principal.role, id: principal.subject },
              roomId: row.room_id,
              subjectId: row.recording_id,
              details: { holdId: row.hold_id, reason: 'legal-hold', sweptAtMs: nowMs },
            });
          }
        });
      }
      continue;
    }
    try {
      const { deletion } = await requestRetentionDeletion(deps, principal, row.recording_id);
      await runDeletion(deps, deletion.deletionId);
      result.deleted.push(row.recording_id);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'CHAP_RECORDS_STORE_UNAVAILABLE';
      // A hold placed between the query and the request refuses the deletion: that is the hold working.
      if (code === 'CHAP_RECORDS_ON_HOLD') result.held.push(row.recording_id);
      else result.failed.push({ id: row.recording_id, code });
    }
  }
  deps.logger.info({ nowMs, deleted: result.deleted.length, held: result.held.length, failed: result.failed.length, resumed: result.resumed.length }, 'retention sweep done');
  return result;
}
