import { Queue, QueueEventsProducer, type ConnectionOptions } from 'bullmq';
import { RECORD_JOB, RECORD_QUEUE, RECORDER_STOP_EVENT, recordJobPayload, type RecordJobData, type RecorderStop } from './recorder-jobs.js';
import type { RecorderDispatcher } from './recorder-dispatcher.js';

/**
 * RecorderDispatcher over BullMQ 6 (dependencies.md): a RECORD_JOB on RECORD_QUEUE (bot/record-job.ts)
 * with the job id the key service chose (adding it twice is a no-op), and a `recorder-stop` custom event
 * on the same queue's event stream, which every recorder process reads with QueueEvents. A stop for a job no worker
 * has taken yet also removes the job. Redis must run with maxmemory-policy noeviction.
 */
export interface BullMqRecorderDispatcherOptions {
  connection: ConnectionOptions;
  /** Default RECORD_QUEUE; tests use a unique name. */
  queueName?: string;
  /** How many stop events the stream keeps. Default 10000. */
  maxEvents?: number;
}

const JOB_ID = /^[A-Za-z0-9_.-]{1,128}$/;

export class BullMqRecorderDispatcher implements RecorderDispatcher {
  private readonly queue: Queue;
  private readonly events: QueueEventsProducer;
  private readonly maxEvents: number;

  constructor(options: BullMqRecorderDispatcherOptions) {
    if (options?.connection === undefined) throw new TypeError('options.connection is required');
    const name = options.queueName ?? RECORD_QUEUE;
    if (typeof name !== 'string' || name.length === 0 || name.includes(':')) throw new TypeError('options.queueName must be a name without ":"');
    this.maxEvents = options.maxEvents ?? 10_000;
    if (!Number.isInteger(this.maxEvents) || this.maxEvents < 100) throw new TypeError('options.maxEvents must be an integer >= 100');
    this.queue = new Queue(name, { connection: options.connection });
    this.events = new QueueEventsProducer(name, { connection: options.connection });
  }

  async dispatch(job: RecordJobData): Promise<void> {
    if (!JOB_ID.test(job.jobId)) throw new TypeError('job.jobId must be 1..128 of [A-Za-z0-9_.-]');
    await this.queue.add(RECORD_JOB, recordJobPayload(job), {
      jobId: job.jobId,
      // A recording that failed is not retried blindly: consent may have changed meanwhile; the key
      // service dispatches a new job when recording is (still) authorized.
      attempts: 1,
      removeOnComplete: { count: 10_000 },
      removeOnFail: { count: 10_000 },
    });
  }

  async stop(stop: RecorderStop): Promise<void> {
    await this.events.publishEvent({ eventName: RECORDER_STOP_EVENT, jobId: stop.jobId, roomId: stop.roomId, reason: stop.reason }, this.maxEvents);
    // Not started yet: take it off the queue (an active job is locked and stays; the event stops it).
    const job = await this.queue.getJob(stop.jobId);
    if (job !== undefined && (await job.isWaiting() || await job.isDelayed())) await job.remove().catch(() => undefined);
  }

  /** Record jobs waiting for a recorder (what recorder autoscaling follows). */
  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized');
    return (counts.waiting ?? 0) + (counts.prioritized ?? 0);
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events.close()]);
  }
}
