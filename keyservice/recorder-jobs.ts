import type { RecordJobData as BotRecordJobData } from '../bot/record-job.js';

/**
 * The contract between the key service and the recorder (bot/, issue 8). The queue and job names and the
 * job's core fields live in one shared place, bot/record-job.ts (RECORD_QUEUE, RECORD_JOB, RecordJobData);
 * this file adds what the key service puts on top: the stop event and the credential route. Identifiers only (ARCHITECTURE.md I5): no PHI, no names,
 * no statement text, no tokens, no key material — the recorder fetches its credential over HTTPS with
 * its own service token (see RECORDER_CREDENTIAL_PATH).
 *
 * Flow (ARCHITECTURE.md flows 4, 5, 7):
 *   1. Recording becomes authorized in a room → the key service adds a RECORD_JOB to RECORD_QUEUE, with
 *      job id = recordingId = `jobId` below.
 *   2. A recorder worker takes it, generates an MLS signature key pair, and POSTs
 *      { jobId, signaturePublicKey } to RECORDER_CREDENTIAL_PATH(roomId) with its service token
 *      (role "recorder") → a credential issued for this room and MLS group.
 *   3. It connects to `deliveryUrl` with the same token, sends a KeyPackage carrying that credential
 *      and key, and is added by the key service's external proposal; it joins the SFU with its
 *      recorder id as display label (so the SFU adapter can drop it: SfuModeration).
 *   4. Authorization ends (a revocation, a joiner without consent, a policy change) → the key service
 *      proposes its removal at once and publishes RECORDER_STOP_EVENT on the queue's event stream; if no
 *      member commits the removal within the removal timeout, the SFU adapter drops the recorder too.
 */

export { RECORD_JOB, RECORD_QUEUE } from '../bot/record-job.js';
export { RECORDER_STOP_EVENT } from '../bot/record-job.js';

export function RECORDER_CREDENTIAL_PATH(roomId: string): string {
  return `/v1/rooms/${encodeURIComponent(roomId)}/recorder-credentials`;
}

/** What the key service dispatches (the gate's view; the queue payload is `recordJobPayload`). */
export interface RecordJobData {
  /** The BullMQ job id and the recording id. */
  jobId: string;
  roomId: string;
  /** The SFU's numeric room. */
  sfuRoom: number;
  policyVersion: number;
  /** Purpose code (medical-record, supervision, quality-review, ai-scribe, custom). */
  purpose: string;
  /** 42 CFR Part 2: the pipeline must narrow access. */
  part2: boolean;
  retentionDays: number;
  /** The key service's HTTP base URL (credential issuance) and MLS delivery endpoint. */
  keyServiceUrl: string;
  deliveryUrl: string;
  dispatchedAtMs: number;
}

export type RecorderStopReason =
  | 'consent-revoked'
  | 'joiner-without-consent'
  | 'consent-missing'
  | 'policy-changed'
  | 'policy-disabled'
  | 'no-policy'
  | 'removal-timeout'
  /** Its recorder crashed and did not come back within RECORDER_REJOIN_GRACE_MS. */
  | 'rejoin-timeout'
  | 'room-ended';

export interface RecorderStop {
  jobId: string;
  roomId: string;
  reason: RecorderStopReason;
}

/** The queue payload: bot/record-job.ts's RecordJobData (recordingId, roomId, sfuRoom) plus identifiers. */
export type RecordJobPayload = BotRecordJobData & Omit<RecordJobData, 'jobId' | 'roomId' | 'sfuRoom'> & { jobId: string };

export function recordJobPayload(job: RecordJobData): RecordJobPayload {
  return {
    recordingId: job.jobId,
    jobId: job.jobId,
    roomId: job.roomId,
    sfuRoom: job.sfuRoom,
    policyVersion: job.policyVersion,
    purpose: job.purpose,
    part2: job.part2,
    retentionDays: job.retentionDays,
    keyServiceUrl: job.keyServiceUrl,
    deliveryUrl: job.deliveryUrl,
    dispatchedAtMs: job.dispatchedAtMs,
  };
}
