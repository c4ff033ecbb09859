import type pg from 'pg';
import { appendAudit, type AuditEvent } from '../audit/index.js';
import type { Logger } from './logger.js';

/**
 * Where the key service's audit events go when they are not part of a larger transaction (membership
 * decisions and refusals; policy and consent events are written in the same transaction as the change).
 * Events are written one at a time, in the order recorded, so the chain follows the order of events; a
 * failed write is logged (codes only) and does not stop the service or the next events.
 */
export interface AuditSink {
  record(event: AuditEvent): void;
  /** Resolves when every event recorded so far has been written (or has failed). */
  flush(): Promise<void>;
}

export const noAudit: AuditSink = {
  record() {},
  flush: async () => undefined,
};

export function postgresAuditSink(pool: pg.Pool, logger: Logger): AuditSink {
  let tail: Promise<void> = Promise.resolve();
  const stamp = () => Date.now();
  return {
    record(event) {
      const withTime = { ...event, occurredAtMs: event.occurredAtMs ?? stamp() };
      tail = tail.then(async () => {
        try {
          await appendAudit(pool, withTime);
        } catch (error) {
          logger.error({ event: event.event, err: error instanceof Error ? error.name : typeof error }, 'audit write failed');
        }
      });
    },
    flush: () => tail,
  };
}
