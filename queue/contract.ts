import { FlowProducer } from 'bullmq';
import pg from 'pg';
import { registerRecording } from './catalog.js';
import { buildSealFlow, DEFAULT_RETRY, type RetryPolicy } from './flow.js';
import { parseSealRecordingRequest, type SealRecordingRequest } from './seal-request.js';

/**
 * The one contract between the recorder and the sealing pipeline.
 *
 * The recorder calls `enqueueSealRecording(enqueuer, request)` once a recording's spool is complete
 * (every segment file closed). The call validates the request (SealRequestError naming the field),
 * records the recording, its tracks and segments in the catalog (PostgreSQL), and adds the recording's
 * flow to Redis with identifiers only. It is idempotent: calling it again with the same request — after a
 * crash, a timeout, a Redis outage — adds nothing twice; the same recording id with different content is
 * refused (CHAP_SEAL_RECORDING_CONFLICT).
 *
 * Queue names, job names, job data and job ids: jobs.ts. The request shape: seal-request.ts.
 */

export * from './jobs.js';
export * from './seal-request.js';
export { DEFAULT_RETRY, type RetryPolicy } from './flow.js';

export const DEFAULT_QUEUE_PREFIX = 'chaperone';

export interface SealEnqueuer {
  pool: pg.Pool;
  flows: FlowProducer;
  /** Retry policy stamped on the flow's jobs; default DEFAULT_RETRY. */
  retry?: RetryPolicy;
}

export interface EnqueueResult {
  recordingId: string;
  /** 'enqueued': new; 'resubmitted': already catalogued, flow re-added (no-op if it exists); 'already-sealed'. */
  status: 'enqueued' | 'resubmitted' | 'already-sealed';
  segments: number;
}

export async function enqueueSealRecording(enqueuer: SealEnqueuer, request: SealRecordingRequest): Promise<EnqueueResult> {
  const clean = parseSealRecordingRequest(request);
  const registered = await registerRecording(enqueuer.pool, clean);
  const segments = clean.tracks.flatMap((t) => t.segments.map((_, i) => ({ trackId: t.trackId, segmentNo: i + 1 })));
  if (!registered.created && registered.state === 'sealed') return { recordingId: clean.recordingId, status: 'already-sealed', segments: segments.length };
  await enqueuer.flows.add(buildSealFlow(clean.recordingId, segments, enqueuer.retry ?? DEFAULT_RETRY));
  return { recordingId: clean.recordingId, status: registered.created ? 'enqueued' : 'resubmitted', segments: segments.length };
}

/**
 * A ready enqueuer for a process that only hands recordings over (the recorder): its own PostgreSQL pool
 * and FlowProducer. `close()` releases both.
 */
export function openSealEnqueuer(options: { databaseUrl: string; redisUrl: string; prefix?: string; retry?: RetryPolicy }): SealEnqueuer & {
  enqueue(request: SealRecordingRequest): Promise<EnqueueResult>;
  close(): Promise<void>;
} {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  const flows = new FlowProducer({ connection: { url: options.redisUrl }, prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX });
  const enqueuer: SealEnqueuer = { pool, flows, ...(options.retry ? { retry: options.retry } : {}) };
  return {
    ...enqueuer,
    enqueue: (request) => enqueueSealRecording(enqueuer, request),
    async close() {
      await flows.close();
      await pool.end();
    },
  };
}
