import { Counter, Gauge, type Registry } from 'prom-client';
import type { Job } from 'bullmq';
import type { SweepResult } from './retention-sweep.js';

/**
 * The lifecycle process's Prometheus metrics, from each retention sweep's result and the worker's failures
 * (labels are outcomes and error codes only, never recording ids):
 *
 *   chaperone_lifecycle_sweeps_total{outcome}                 sweeps run: ok, or failed (thrown; the next
 *                                                             tick retries)
 *   chaperone_lifecycle_recordings_deleted_total              recordings deleted because their retention ended
 *   chaperone_lifecycle_recordings_held_total                 expired recordings kept because of a legal hold
 *                                                             (per sweep: a held recording counts every pass)
 *   chaperone_lifecycle_deletions_resumed_total               unfinished deletions completed by a sweep
 *   chaperone_lifecycle_deletion_failures_total{code}         deletions that failed in a sweep (retried next)
 *   chaperone_lifecycle_last_successful_sweep_timestamp_seconds  when the last sweep finished; alert when it
 *                                                             falls behind (e.g. > 2 h with an hourly sweep)
 */
export interface LifecycleMetrics {
  /** The worker's `onSweep`. */
  sweepDone(result: SweepResult): void;
  /** The worker's `failed` event: the sweep threw. */
  sweepFailed(job: Job | undefined, error: Error): void;
}

export function instrumentLifecycle(registry: Registry, now: () => number = Date.now): LifecycleMetrics {
  const sweeps = new Counter({ name: 'chaperone_lifecycle_sweeps_total', help: 'Retention sweeps by outcome', labelNames: ['outcome'], registers: [registry] });
  const deleted = new Counter({ name: 'chaperone_lifecycle_recordings_deleted_total', help: 'Recordings deleted because their retention ended', registers: [registry] });
  const held = new Counter({ name: 'chaperone_lifecycle_recordings_held_total', help: 'Expired recordings kept because of a legal hold, counted per sweep', registers: [registry] });
  const resumed = new Counter({ name: 'chaperone_lifecycle_deletions_resumed_total', help: 'Unfinished deletions completed by a sweep', registers: [registry] });
  const failures = new Counter({ name: 'chaperone_lifecycle_deletion_failures_total', help: 'Deletions that failed during a sweep, by error code (the next sweep retries)', labelNames: ['code'], registers: [registry] });
  const lastSuccess = new Gauge({ name: 'chaperone_lifecycle_last_successful_sweep_timestamp_seconds', help: 'Unix time the last retention sweep finished (0: none since the process started)', registers: [registry] });
  for (const outcome of ['ok', 'failed']) sweeps.inc({ outcome }, 0);
  lastSuccess.set(0);
  return {
    sweepDone(result) {
      sweeps.inc({ outcome: 'ok' });
      deleted.inc(result.deleted.length);
      held.inc(result.held.length);
      resumed.inc(result.resumed.length);
      for (const failure of result.failed) failures.inc({ code: /^[A-Z0-9_]{1,64}$/.test(failure.code) ? failure.code : 'other' });
      lastSuccess.set(now() / 1000);
    },
    sweepFailed() {
      sweeps.inc({ outcome: 'failed' });
    },
  };
}
