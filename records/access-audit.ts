import { appendAudit, type AuditDetailValue, type AuditOutcome, type Queryable } from '../audit/index.js';
import type { Principal } from './principal.js';

/**
 * Access events of the records service in the hash-chained audit log (I7): who (role and pseudonymous
 * id), what (event code, recording, track/segment or derivative), when (the log's timestamp), outcome
 * (ok / refused / failed) and why (a code). Refusals are written too. Identifiers and codes only.
 */
export const RECORDS_EVENTS = Object.freeze({
  listed: 'records.listed',
  viewed: 'records.viewed',
  auditRead: 'records.audit-read',
  tokenIssued: 'records.playback-token-issued',
  sessionOpened: 'records.playback-session-opened',
  played: 'records.played',
  integrityFailed: 'records.integrity-failed',
  derivativeCreated: 'records.derivative-created',
  careTeamAssigned: 'records.care-team-assigned',
  careTeamRevoked: 'records.care-team-revoked',
  unauthenticated: 'records.unauthenticated',
});

export interface AccessEvent {
  event: string;
  outcome?: AuditOutcome;
  /** Absent when the caller could not be authenticated. */
  principal?: Principal;
  roomId?: string;
  /** The recording (or room, for care-team events) concerned. */
  subjectId?: string;
  details?: Record<string, AuditDetailValue | undefined>;
}

export async function auditAccess(db: Queryable, event: AccessEvent): Promise<void> {
  const details: Record<string, AuditDetailValue> = {};
  for (const [key, value] of Object.entries(event.details ?? {})) if (value !== undefined) details[key] = value;
  await appendAudit(db, {
    event: event.event,
    outcome: event.outcome ?? 'ok',
    ...(event.principal ? { actor: { role: event.principal.role, id: event.principal.subject } } : {}),
    ...(event.roomId ? { roomId: event.roomId } : {}),
    ...(event.subjectId ? { subjectId: event.subjectId } : {}),
    details,
    occurredAtMs: Date.now(),
  });
}
