import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from '../ops/metrics.js';
import { codeOfFailedReason } from './errors.js';
import { SEAL_QUEUES } from './jobs.js';
import type { StepOutcome } from './steps/segment-steps.js';
import type { SealWorkers } from './workers.js';

/**
 * The sealing pipeline's Prometheus metrics, observed from outside the workers (their events and the
 * queues' counts), so the sealing code carries no metrics code:
 *
 *   chaperone_seal_queue_depth{queue}            jobs ready to run and not taken (waiting + prioritized):
 *                                                what autoscaling follows
 *   chaperone_seal_queue_jobs{queue,state}       every BullMQ state, read at scrape time
 *   chaperone_seal_latency_seconds               a recording's enqueue (its flow added) → sealed (manifest
 *                                                signed, catalog entry); not observed for a re-run that
 *                                                found it already sealed
 *   chaperone_seal_step_failures_total{code,final}  failed step attempts by error code; final="true" ends the flow
 */
const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed', 'completed'] as const;

export interface SealMetrics {
  /** Redis answers on the counting connection (readiness). */
  ping(): Promise<string>;
  /** Closes the queue connections used for counting. */
  close(): Promise<void>;
}

export function instrumentSealWorkers(workers: SealWorkers, registry: Registry, options: { connection: ConnectionOptions; prefix: string }): SealMetrics {
  const queues = [SEAL_QUEUES.segment, SEAL_QUEUES.recording].map((name) => new Queue(name, { connection: options.connection, prefix: options.prefix }));
  // Redis away: no queue samples (alert on their absence) rather than a failed scrape of every metric.
  const counts = async () => Promise.all(queues.map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...STATES) }))).catch(() => []);
  new Gauge({
    name: 'chaperone_seal_queue_depth',
    help: 'Seal jobs ready to run and not yet taken by a worker (waiting + prioritized), per queue',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { queue, counts: c } of await counts()) this.set({ queue }, (c.waiting ?? 0) + (c.prioritized ?? 0));
    },
  });
  new Gauge({
    name: 'chaperone_seal_queue_jobs',
    help: 'Seal jobs per queue and BullMQ state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { queue, counts: c } of await counts()) for (const state of STATES) this.set({ queue, state }, c[state] ?? 0);
    },
  });
  const latency = new Histogram({
    name: 'chaperone_seal_latency_seconds',
    help: "Time from a recording's enqueue (flow added) to sealed (signed manifest, catalog entry)",
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'chaperone_seal_step_failures_total',
    help: 'Failed seal step attempts by error code; final="true" stopped the flow',
    labelNames: ['code', 'final'],
    registers: [registry],
  });

  workers.recording.on('completed', (job: Job, outcome: StepOutcome) => {
    if (outcome?.skipped) return;
    latency.observe(Math.max(0, (job.finishedOn ?? Date.now()) - job.timestamp) / 1000);
  });
  for (const worker of [workers.segment, workers.recording]) {
    worker.on('failed', (job: Job | undefined, error: Error) => {
      const final = job === undefined || error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      failures.inc({ code: codeOfFailedReason(error.message) ?? 'CHAP_SEAL_INTERNAL', final: String(final) });
    });
  }
  return {
    // BullMQ's Redis backend client is ioredis.
    ping: async () => ((await queues[0]!.backend.client) as unknown as Redis).ping(),
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
