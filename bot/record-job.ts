/**
 * The record queue's contract, in one place: the key service enqueues, recorders consume. Job data is
 * identifiers only (invariant I5: no PHI and no key material in Redis). The job id is the recording id,
 * so dispatching the same recording twice starts one recorder.
 */
export const RECORD_QUEUE = 'chaperone-record';
export const RECORD_JOB = 'record-call';
/**
 * A custom event on RECORD_QUEUE's event stream (QueueEventsProducer → QueueEvents), fields { jobId,
 * roomId, reason }: the recorder holding that job finishes.
 */
export const RECORDER_STOP_EVENT = 'recorder-stop';

export interface RecordJobData {
  recordingId: string;
  roomId: string;
  /** The SFU's numeric id for the room. */
  sfuRoom: number;
  /** The recording policy the job runs under (carried on to the sealed manifest); identifiers only. */
  policy?: { policyVersion: number; purpose: string; retentionDays: number; part2: boolean };
}

export interface RecordJobResult {
  recordingId: string;
  endReason: string;
  tracks: number;
  segments: number;
}

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export class RecordJobError extends Error {
  constructor(
    readonly field: keyof RecordJobData,
    message: string,
  ) {
    super(message);
    this.name = 'RecordJobError';
  }
}

/** Validates job data at the boundary; the message names the field and what it must be. */
export function parseRecordJobData(data: unknown): RecordJobData {
  const value = (data ?? {}) as Partial<RecordJobData>;
  if (typeof value.recordingId !== 'string' || !ID_PATTERN.test(value.recordingId)) {
    throw new RecordJobError('recordingId', 'recordingId must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  if (typeof value.roomId !== 'string' || !ID_PATTERN.test(value.roomId)) {
    throw new RecordJobError('roomId', 'roomId must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  if (!Number.isSafeInteger(value.sfuRoom) || (value.sfuRoom as number) <= 0) {
    throw new RecordJobError('sfuRoom', 'sfuRoom must be a positive integer (the SFU room id)');
  }
  const extra = value as { policyVersion?: unknown; purpose?: unknown; retentionDays?: unknown; part2?: unknown };
  const policy =
    Number.isSafeInteger(extra.policyVersion) && typeof extra.purpose === 'string' && Number.isSafeInteger(extra.retentionDays)
      ? { policyVersion: extra.policyVersion as number, purpose: extra.purpose, retentionDays: extra.retentionDays as number, part2: extra.part2 === true }
      : undefined;
  return { recordingId: value.recordingId, roomId: value.roomId, sfuRoom: value.sfuRoom as number, ...(policy ? { policy } : {}) };
}
