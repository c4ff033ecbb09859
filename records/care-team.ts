import type { Queryable } from '../queue/catalog.js';

/**
 * Care team assignments (records_care_team, migration 0300): a clinician assigned to a room's care team
 * may list, play and derive that room's recordings (access-policy.ts). Assigning again after a revocation
 * re-opens the assignment; a revocation keeps the row with who revoked it and when.
 */

export async function assignCareTeam(db: Queryable, roomId: string, clinicianId: string, assignedBy: string, nowMs = Date.now()): Promise<void> {
  await db.query(
    `insert into records_care_team (room_id, clinician_id, assigned_by, assigned_at_ms) values ($1, $2, $3, $4)
     on conflict (room_id, clinician_id) do update set assigned_by = excluded.assigned_by, assigned_at_ms = excluded.assigned_at_ms, revoked_at_ms = null, revoked_by = null
       where records_care_team.revoked_at_ms is not null`,
    [roomId, clinicianId, assignedBy, nowMs],
  );
}

/** Returns false when there was no live assignment. */
export async function revokeCareTeam(db: Queryable, roomId: string, clinicianId: string, revokedBy: string, nowMs = Date.now()): Promise<boolean> {
  const { rowCount } = await db.query(
    'update records_care_team set revoked_at_ms = $3, revoked_by = $4 where room_id = $1 and clinician_id = $2 and revoked_at_ms is null',
    [roomId, clinicianId, nowMs, revokedBy],
  );
  return rowCount === 1;
}
