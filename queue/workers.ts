import { hostname } from 'node:os';
import { Worker, type ConnectionOptions, type Job, type MinimalJob } from 'bullmq';
import { markFailed, type SegmentKey } from './catalog.js';
import { asSealError, toJobError } from './errors.js';
import { SEAL_BACKOFF } from './flow.js';
import { RECORDING_STEP, SEAL_QUEUES, parseRecordingJobData, parseSegmentJobData, type SegmentStep } from './jobs.js';
import type { Logger } from './logger.js';
import type { SealServices } from './services.js';
import { sealRecording } from './steps/seal-recording.js';
import { hashSegment, storeSegment, verifySegment, type StepOutcome } from './steps/segment-steps.js';
import { UnrecoverableError } from 'bullmq';

/**
 * The pipeline's BullMQ workers: one on the segment queue (hash, store, verify), one on the recording
 * queue (seal). A step that fails transiently is retried with capped exponential backoff; a permanent
 * failure is thrown as UnrecoverableError (no retry spent) and, like a last failed attempt, recorded in
 * the catalog first. A worker that dies mid-job loses its lock; the stalled-job check of any other worker
 * puts the job back and it runs again (steps are idempotent). SIGTERM drains (active jobs finish, no new
 * ones start); SIGINT aborts (active jobs are left to the stalled check of other workers).
 */

export interface SealWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Jobs in parallel per worker. Defaults: 2 segment steps, 2 recordings. */
  segmentConcurrency?: number;
  recordingConcurrency?: number;
  /** BullMQ lock: a job whose worker stops renewing it for this long is stalled. Default 30 s. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs. Default 30 s. */
  stalledIntervalMs?: number;
  /** Times a job may stall before it fails. Default 2. */
  maxStalledCount?: number;
  /** Ceiling of the retry backoff. Default 5 min. */
  backoffMaxMs?: number;
  /** Shown on jobs this worker processed. Default host-pid. */
  name?: string;
}

export interface SealWorkers {
  readonly segment: Worker;
  readonly recording: Worker;
  /** Stops taking jobs and waits for the active ones to finish (drain). */
  close(): Promise<void>;
  /** Stops at once; active jobs stay locked until their lock expires, then another worker takes them. */
  abort(): Promise<void>;
}

/** Capped exponential backoff with ±20 % jitter, so retries after a shared outage do not arrive together. */
export function sealBackoff(maxMs: number) {
  return (attemptsMade: number, type?: string, _error?: Error, job?: MinimalJob): number => {
    if (type !== SEAL_BACKOFF) return 0;
    const backoff = job?.opts.backoff;
    const base = typeof backoff === 'object' && backoff.delay ? backoff.delay : 1000;
    const exponential = Math.min(maxMs, base * 2 ** Math.max(0, attemptsMade - 1));
    return Math.min(maxMs, Math.round(exponential * (0.8 + Math.random() * 0.4)));
  };
}

async function runStep(services: SealServices, job: Job, log: Logger, recordingId: string, segment: SegmentKey | undefined, step: () => Promise<StepOutcome>): Promise<StepOutcome> {
  const startedAt = Date.now();
  try {
    const outcome = await step();
    log.info({ ms: Date.now() - startedAt, skipped: outcome.skipped, bytes: outcome.bytes }, outcome.skipped ? 'step already done' : 'step done');
    return outcome;
  } catch (error) {
    const failure = asSealError(error);
    const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const context = { ms: Date.now() - startedAt, code: failure.code, permanent: failure.permanent, final, error: failure.message };
    if (final) {
      log.error(context, 'step failed; flow stops, spool kept');
      await markFailed(services.pool, recordingId, segment, failure.code, failure.message).catch((e: unknown) => log.error({ code: asSealError(e).code }, 'could not record the failure in the catalog'));
    } else {
      log.warn(context, 'step failed; will retry');
    }
    throw toJobError(failure);
  }
}

export function startSealWorkers(services: SealServices, options: SealWorkerOptions): SealWorkers {
  const { connection, prefix } = options;
  const common = {
    connection,
    prefix,
    name: options.name ?? `${hostname()}-${process.pid}`,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    settings: { backoffStrategy: sealBackoff(options.backoffMaxMs ?? 300_000) },
  };
  const logger = services.logger;

  const segment = new Worker(
    SEAL_QUEUES.segment,
    async (job: Job) => {
      let data;
      try {
        data = parseSegmentJobData(job.data);
      } catch (error) {
        throw new UnrecoverableError(`CHAP_SEAL_BAD_REQUEST: ${(error as Error).message}`);
      }
      const key: SegmentKey = { recordingId: data.recordingId, trackId: data.trackId, segmentNo: data.segmentNo };
      const log = logger.child({ jobId: job.id, step: job.name, ...key, attempt: job.attemptsMade + 1 });
      const steps: Record<SegmentStep, () => Promise<StepOutcome>> = {
        'hash-segment': () => hashSegment(services, key),
        'store-segment': () => storeSegment(services, key),
        'verify-segment': () => verifySegment(services, key),
      };
      const step = steps[job.name as SegmentStep];
      if (!step) throw new UnrecoverableError(`CHAP_SEAL_BAD_REQUEST: unknown segment step ${job.name}`);
      return runStep(services, job, log, data.recordingId, key, step);
    },
    { ...common, concurrency: options.segmentConcurrency ?? 2 },
  );

  const recording = new Worker(
    SEAL_QUEUES.recording,
    async (job: Job) => {
      let data;
      try {
        data = parseRecordingJobData(job.data);
      } catch (error) {
        throw new UnrecoverableError(`CHAP_SEAL_BAD_REQUEST: ${(error as Error).message}`);
      }
      if (job.name !== RECORDING_STEP) throw new UnrecoverableError(`CHAP_SEAL_BAD_REQUEST: unknown recording step ${job.name}`);
      const log = logger.child({ jobId: job.id, step: job.name, recordingId: data.recordingId, attempt: job.attemptsMade + 1 });
      return runStep(services, job, log, data.recordingId, undefined, () => sealRecording(services, data.recordingId));
    },
    { ...common, concurrency: options.recordingConcurrency ?? 2 },
  );

  for (const worker of [segment, recording]) {
    // Connection trouble is reported here (and retried by BullMQ); without a listener it would crash the process.
    worker.on('error', (error) => logger.warn({ queue: worker.name, error: error.message }, 'worker error'));
    worker.on('stalled', (jobId) => logger.warn({ queue: worker.name, jobId }, 'job stalled; put back for another attempt'));
  }

  let closing: Promise<void> | undefined;
  return {
    segment,
    recording,
    close() {
      closing ??= Promise.all([segment.close(), recording.close()]).then(() => undefined);
      return closing;
    },
    async abort() {
      await Promise.all([segment.close(true), recording.close(true)]);
    },
  };
}

/**
 * SIGTERM drains, SIGINT aborts; a second signal during a drain aborts. Calls `exit` with 0 after a drain
 * and 130 after an abort. Returns a function that removes the handlers.
 */
export function installSignalHandlers(workers: SealWorkers, logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let draining = false;
  const onTerm = () => {
    if (draining) return void onInt();
    draining = true;
    logger.info({}, 'sigterm: draining (active jobs finish, no new ones start)');
    workers.close().then(
      () => {
        logger.info({}, 'drained');
        exit(0);
      },
      (error: Error) => {
        logger.error({ error: error.message }, 'drain failed');
        exit(1);
      },
    );
  };
  const onInt = () => {
    logger.warn({}, 'sigint: aborting (active jobs will be taken over after their lock expires)');
    workers.abort().finally(() => exit(130));
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  };
}
