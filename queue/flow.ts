import type { FlowJob, JobsOptions } from 'bullmq';
import { JOB_DATA_VERSION, RECORDING_STEP, SEAL_QUEUES, recordingJobId, segmentJobId, type RecordingJobData, type SegmentJobData, type SegmentStep } from './jobs.js';

/**
 * The BullMQ flow of one recording (see jobs.ts for the tree). Every node has a deterministic jobId, so
 * adding the flow again changes nothing; every child has failParentOnFailure, so a failure that ends a
 * segment ends the recording's flow (the failure is in the catalog, the spool is kept); retries back off
 * exponentially with a cap (SEAL_BACKOFF, computed by the workers).
 */

export interface RetryPolicy {
  /** Attempts per step, the first included. */
  attempts: number;
  /** First retry delay; doubles each attempt up to the workers' cap. */
  backoffBaseMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ attempts: 12, backoffBaseMs: 2000 });

/** Name of the custom backoff strategy (capped exponential with jitter), implemented in workers.ts. */
export const SEAL_BACKOFF = 'seal-capped-exponential';

const KEEP_COMPLETED_S = 7 * 86_400;
const KEEP_FAILED_S = 30 * 86_400;

function jobOptions(jobId: string, retry: RetryPolicy, child: boolean): JobsOptions {
  return {
    jobId,
    attempts: retry.attempts,
    backoff: { type: SEAL_BACKOFF, delay: retry.backoffBaseMs },
    // Kept for a week so that re-adding the flow is a no-op; the catalog stays the record after that.
    removeOnComplete: { age: KEEP_COMPLETED_S },
    removeOnFail: { age: KEEP_FAILED_S },
    ...(child ? { failParentOnFailure: true } : {}),
  };
}

export interface FlowSegment {
  trackId: string;
  segmentNo: number;
}

export function buildSealFlow(recordingId: string, segments: readonly FlowSegment[], retry: RetryPolicy): FlowJob {
  const data = (step: SegmentStep, s: FlowSegment) => ({
    name: step,
    queueName: SEAL_QUEUES.segment,
    data: { v: JOB_DATA_VERSION, recordingId, trackId: s.trackId, segmentNo: s.segmentNo } satisfies SegmentJobData,
    opts: jobOptions(segmentJobId(step, { recordingId, trackId: s.trackId, segmentNo: s.segmentNo }), retry, true),
  });
  return {
    name: RECORDING_STEP,
    queueName: SEAL_QUEUES.recording,
    data: { v: JOB_DATA_VERSION, recordingId } satisfies RecordingJobData,
    opts: jobOptions(recordingJobId(recordingId), retry, false),
    children: segments.map((s) => ({
      ...data('verify-segment', s),
      children: [{ ...data('store-segment', s), children: [data('hash-segment', s)] }],
    })),
  };
}
