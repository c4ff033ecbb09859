/**
 * What travels through Redis: queue names, job names, job data and job ids of the sealing flow. Job data
 * holds identifiers only — recording id, track id, segment number — never a path, a participant id, a
 * hash, a key or anything a person typed (ARCHITECTURE.md I5); everything else is in the catalog.
 *
 * One flow per recording (BullMQ FlowProducer); children run before their parent:
 *
 *   seal-recording            (queue chaperone-seal-recording)  manifest, catalog entry, spool release
 *   └─ verify-segment ×N      (queue chaperone-seal-segment)    read back, decrypt, both hashes
 *      └─ store-segment       (queue chaperone-seal-segment)    encrypt (streaming) into a multipart upload
 *         └─ hash-segment     (queue chaperone-seal-segment)    SHA-256 of the spool file, recorded first
 *
 * A segment is one spool file of a track (the recorder starts a new one after a crash or a stream change).
 */

export const SEAL_QUEUES = Object.freeze({ segment: 'chaperone-seal-segment', recording: 'chaperone-seal-recording' } as const);
export type SealQueueName = (typeof SEAL_QUEUES)[keyof typeof SEAL_QUEUES];

export const SEGMENT_STEPS = Object.freeze(['hash-segment', 'store-segment', 'verify-segment'] as const);
export type SegmentStep = (typeof SEGMENT_STEPS)[number];
export const RECORDING_STEP = 'seal-recording';
export type RecordingStep = typeof RECORDING_STEP;

/** Version of the job data shape; a worker refuses data of a version it does not know. */
export const JOB_DATA_VERSION = 1;

export interface SegmentJobData {
  v: typeof JOB_DATA_VERSION;
  recordingId: string;
  trackId: string;
  /** 1-based position of the file in the track's segments. */
  segmentNo: number;
}

export interface RecordingJobData {
  v: typeof JOB_DATA_VERSION;
  recordingId: string;
}

export type SealJob =
  | { queue: typeof SEAL_QUEUES.segment; name: SegmentStep; data: SegmentJobData }
  | { queue: typeof SEAL_QUEUES.recording; name: RecordingStep; data: RecordingJobData };

/** Recording and track ids: used in job ids, object keys and encryption contexts, so no '.', ':' or '/'. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const MAX_SEGMENTS_PER_TRACK = 999;

const STEP_PREFIX: Record<SegmentStep | RecordingStep, string> = {
  'hash-segment': 'hash',
  'store-segment': 'store',
  'verify-segment': 'verify',
  'seal-recording': 'seal',
};

/** Deterministic job ids: adding the same recording's flow twice adds nothing (BullMQ skips existing ids). */
export function segmentJobId(step: SegmentStep, data: Pick<SegmentJobData, 'recordingId' | 'trackId' | 'segmentNo'>): string {
  return `${STEP_PREFIX[step]}.${data.recordingId}.${data.trackId}.${data.segmentNo}`;
}

export function recordingJobId(recordingId: string): string {
  return `${STEP_PREFIX[RECORDING_STEP]}.${recordingId}`;
}

/** Object keys: identifiers only (no names, no participant ids, no file names from the spool). */
export function segmentObjectKey(recordingId: string, trackId: string, segmentNo: number): string {
  return `recordings/${recordingId}/${trackId}/${String(segmentNo).padStart(3, '0')}.esdk`;
}

export function manifestObjectKey(recordingId: string): string {
  return `recordings/${recordingId}/manifest.esdk`;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Checks job data read back from Redis before a worker acts on it. */
export function parseSegmentJobData(data: unknown): SegmentJobData {
  const d = data as Partial<SegmentJobData> | null;
  if (
    !d ||
    d.v !== JOB_DATA_VERSION ||
    !isId(d.recordingId) ||
    !isId(d.trackId) ||
    !Number.isInteger(d.segmentNo) ||
    (d.segmentNo as number) < 1 ||
    (d.segmentNo as number) > MAX_SEGMENTS_PER_TRACK ||
    Object.keys(d).length !== 4
  ) {
    throw new TypeError(`segment job data must be {v:${JOB_DATA_VERSION}, recordingId, trackId, segmentNo}`);
  }
  return { v: JOB_DATA_VERSION, recordingId: d.recordingId, trackId: d.trackId, segmentNo: d.segmentNo as number };
}

export function parseRecordingJobData(data: unknown): RecordingJobData {
  const d = data as Partial<RecordingJobData> | null;
  if (!d || d.v !== JOB_DATA_VERSION || !isId(d.recordingId) || Object.keys(d).length !== 2) {
    throw new TypeError(`recording job data must be {v:${JOB_DATA_VERSION}, recordingId}`);
  }
  return { v: JOB_DATA_VERSION, recordingId: d.recordingId };
}
