import { Counter, type Registry } from 'prom-client';
import { observeAuditEvents, type AuditEvent } from '../audit/index.js';
import { RECORDS_EVENTS } from './access-audit.js';

/**
 * The records service's Prometheus metrics, counted from the audit events the service appends (every
 * listing, play, export and deletion is audited with its outcome, so the counters say what the audit log
 * says — and no route carries metrics code). Labels are outcomes and kinds only, never ids:
 *
 *   chaperone_records_playback_sessions_total{outcome}   playback sessions opened (ok) or refused
 *   chaperone_records_plays_total{outcome}               media requests: ok, failed (incl. a player gone
 *                                                        mid-stream), refused
 *   chaperone_records_playback_bytes_total               verified plaintext bytes served to players
 *   chaperone_records_integrity_refusals_total           stored media that failed its manifest check (any
 *                                                        non-zero value means tampering or corruption)
 *   chaperone_records_exports_total{outcome}             right-of-access exports delivered, refused, failed
 *   chaperone_records_deletions_total{outcome}           requested, refused, completed, failed (interrupted;
 *                                                        the lifecycle sweep resumes it)
 *   chaperone_records_access_refusals_total{event}       refused calls (unauthenticated, policy) by event kind
 */
export interface RecordsMetrics {
  /** Stops counting (the service closes). */
  close(): void;
}

const DELETION_EVENTS: Record<string, (outcome: string) => string> = {
  'recording.deletion-requested': (outcome) => (outcome === 'ok' ? 'requested' : 'refused'),
  'recording.deleted': () => 'completed',
  'recording.track-deleted': () => 'completed',
  'recording.deletion-interrupted': () => 'failed',
};

export function instrumentRecords(registry: Registry): RecordsMetrics {
  const sessions = new Counter({ name: 'chaperone_records_playback_sessions_total', help: 'Playback sessions opened (ok) or refused', labelNames: ['outcome'], registers: [registry] });
  const plays = new Counter({ name: 'chaperone_records_plays_total', help: 'Media requests of playback sessions by outcome', labelNames: ['outcome'], registers: [registry] });
  const bytes = new Counter({ name: 'chaperone_records_playback_bytes_total', help: 'Verified plaintext bytes served to players', registers: [registry] });
  const integrity = new Counter({ name: 'chaperone_records_integrity_refusals_total', help: 'Stored media refused because it did not match its signed manifest', registers: [registry] });
  const exports = new Counter({ name: 'chaperone_records_exports_total', help: 'Right-of-access exports by outcome', labelNames: ['outcome'], registers: [registry] });
  const deletions = new Counter({ name: 'chaperone_records_deletions_total', help: 'Deletions by outcome: requested, refused, completed, failed', labelNames: ['outcome'], registers: [registry] });
  const refusals = new Counter({ name: 'chaperone_records_access_refusals_total', help: 'Refused calls by audit event kind', labelNames: ['event'], registers: [registry] });
  // Zero series from the start, so rate() and absent-series alerts work before the first event.
  for (const outcome of ['ok', 'refused']) sessions.inc({ outcome }, 0);
  for (const outcome of ['ok', 'failed', 'refused']) plays.inc({ outcome }, 0);
  for (const outcome of ['ok', 'refused', 'failed']) exports.inc({ outcome }, 0);
  for (const outcome of ['requested', 'refused', 'completed', 'failed']) deletions.inc({ outcome }, 0);

  const observe = (event: Readonly<AuditEvent>) => {
    const outcome = event.outcome ?? 'ok';
    if (outcome === 'refused') refusals.inc({ event: event.event });
    switch (event.event) {
      case RECORDS_EVENTS.sessionOpened:
        sessions.inc({ outcome: outcome === 'ok' ? 'ok' : 'refused' });
        return;
      case RECORDS_EVENTS.played: {
        plays.inc({ outcome });
        const sent = event.details?.bytes;
        if (typeof sent === 'number' && sent > 0) bytes.inc(sent);
        return;
      }
      case RECORDS_EVENTS.integrityFailed:
        integrity.inc();
        return;
      case 'recording.exported':
        exports.inc({ outcome });
        return;
      default: {
        const deletion = DELETION_EVENTS[event.event];
        if (deletion) deletions.inc({ outcome: deletion(outcome) });
        // A refused export by the lifecycle policy check is `recording.export`, refused.
        if (event.event === 'recording.export' && outcome === 'refused') exports.inc({ outcome: 'refused' });
        if (event.event === 'recording.delete' && outcome === 'refused') deletions.inc({ outcome: 'refused' });
      }
    }
  };
  const unsubscribe = observeAuditEvents(observe);
  return { close: unsubscribe };
}
