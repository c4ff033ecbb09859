import { Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import type { DeletionDeps } from './deletion.js';
import { sweepRetention, type SweepResult } from './retention-sweep.js';

/**
 * The retention clock's trigger: a BullMQ 6 job scheduler (`upsertJobScheduler`; v6 removed the legacy
 * repeatable jobs) on the queue `chaperone-records-lifecycle` makes one `retention-sweep` job every
 * `everyMs`; a worker (concurrency 1) runs sweepRetention. Upserting the same scheduler id from every
 * process is idempotent (one schedule, the latest settings), and BullMQ hands each produced job to one
 * worker, so any number of lifecycle processes can run. Job data is a version number only (I5). A sweep
 * that fails is retried by the next tick; deletions it leaves unfinished are resumed then.
 */

export const LIFECYCLE_QUEUE = 'chaperone-records-lifecycle';
export const RETENTION_SCHEDULER_ID = 'chaperone-retention-sweep';
export const RETENTION_JOB = 'retention-sweep';
export const MIN_SWEEP_EVERY_MS = 1000;

export interface LifecycleWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Sweep interval; at least MIN_SWEEP_EVERY_MS. */
  everyMs: number;
  onSweep?: (result: SweepResult) => void;
}

export interface LifecycleWorker {
  queue: Queue;
  worker: Worker;
  /** Finishes the sweep in progress, then stops (SIGTERM). */
  close(): Promise<void>;
  /** Stops at once (SIGINT); an interrupted deletion resumes at the next sweep. */
  abort(): Promise<void>;
}

export async function startLifecycleWorker(deps: DeletionDeps, options: LifecycleWorkerOptions): Promise<LifecycleWorker> {
  if (!Number.isInteger(options.everyMs) || options.everyMs < MIN_SWEEP_EVERY_MS) throw new TypeError(`everyMs: must be an integer ≥ ${MIN_SWEEP_EVERY_MS}`);
  const queue = new Queue(LIFECYCLE_QUEUE, { connection: options.connection, prefix: options.prefix });
  queue.on('error', (error) => deps.logger.warn({ error: error.message }, 'lifecycle queue connection problem'));
  await queue.upsertJobScheduler(
    RETENTION_SCHEDULER_ID,
    { every: options.everyMs },
    { name: RETENTION_JOB, data: { v: 1 }, opts: { removeOnComplete: 100, removeOnFail: 100, attempts: 1 } },
  );
  const worker = new Worker(
    LIFECYCLE_QUEUE,
    async (job) => {
      if (job.name !== RETENTION_JOB) throw new UnrecoverableError(`unknown lifecycle job ${job.name}`);
      const result = await sweepRetention(deps);
      options.onSweep?.(result);
      return { deleted: result.deleted.length, held: result.held.length, failed: result.failed.length, resumed: result.resumed.length };
    },
    { connection: options.connection, prefix: options.prefix, concurrency: 1 },
  );
  worker.on('error', (error) => deps.logger.warn({ error: error.message }, 'lifecycle worker connection problem'));
  worker.on('failed', (job, error) => deps.logger.warn({ jobId: job?.id, error: error.message }, 'retention sweep failed; the next tick retries'));
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
    async abort() {
      await worker.close(true);
      await queue.close();
    },
  };
}
