import { FlowProducer, Queue } from 'bullmq';
import type pg from 'pg';
import { appendAudit } from '../audit/index.js';
import { getRecording, inCatalogTransaction, listSegments, type Queryable } from './catalog.js';
import { SealError } from './errors.js';
import { buildSealFlow, DEFAULT_RETRY, type RetryPolicy } from './flow.js';
import { RECORDING_STEP, SEAL_QUEUES, SEGMENT_STEPS, recordingJobId, segmentJobId } from './jobs.js';
import type { Spool } from './spool.js';

/**
 * Re-sealing a recording after a permanent failure (KMS access denied, a disabled key, a spool file that
 * was missing and has been restored): once the operator has fixed the cause, the recording's flow runs
 * again. The flow's job ids are deterministic (jobs.ts), and failed jobs are kept for 30 days so that
 * adding a flow twice is a no-op — so the old, failed flow is removed first, then the flow is added again.
 * Every step is idempotent against the catalog (a segment already stored or verified is not done twice),
 * so a re-seal repeats only the work that did not finish.
 *
 * Refused, with the reason, unless the recording is `failed`, every spool file of a segment that is not yet
 * verified is still there, and no job of the old flow is running.
 */

export interface ResealDeps {
  pool: pg.Pool;
  redis: { url: string; prefix: string };
  spool: Spool;
  retry?: RetryPolicy;
  actor: { role: string; id: string };
}

export interface ResealResult {
  recordingId: string;
  /** Segments whose steps run again (those not verified before). */
  segmentsToSeal: number;
  segmentsAlreadyVerified: number;
  /** The failure that is being retried. */
  previousFailure: string | null;
}

async function spoolCheck(db: Queryable, spool: Spool, recordingId: string): Promise<{ pending: number; verified: number }> {
  const segments = await listSegments(db, recordingId);
  let pending = 0;
  for (const segment of segments) {
    if (segment.state === 'verified') continue;
    pending++;
    // Throws CHAP_SEAL_SPOOL_MISSING naming the file: nothing can be sealed without it.
    await spool.resolve(recordingId, segment.spoolFile);
  }
  return { pending, verified: segments.length - pending };
}

export async function resealRecording(deps: ResealDeps, recordingId: string): Promise<ResealResult> {
  const recording = await getRecording(deps.pool, recordingId);
  if (!recording) throw new SealError('CHAP_SEAL_UNKNOWN_RECORDING', `recording ${recordingId} is not in the catalog`, true, { field: 'recordingId' });
  if (recording.state === 'sealed') throw new SealError('CHAP_SEAL_CATALOG_STATE', `recording ${recordingId} is already sealed; nothing to re-seal (run "chaperone verify ${recordingId}")`, true);
  if (recording.state !== 'failed') {
    throw new SealError('CHAP_SEAL_CATALOG_STATE', `recording ${recordingId} is ${recording.state}, not failed: its flow is still running (watch it with "chaperone verify" or the seal metrics)`, true);
  }
  const { pending, verified } = await spoolCheck(deps.pool, deps.spool, recordingId);
  const segments = (await listSegments(deps.pool, recordingId)).map((s) => ({ trackId: s.trackId, segmentNo: s.segmentNo }));

  const connection = { url: deps.redis.url };
  const queues = {
    recording: new Queue(SEAL_QUEUES.recording, { connection, prefix: deps.redis.prefix }),
    segment: new Queue(SEAL_QUEUES.segment, { connection, prefix: deps.redis.prefix }),
  };
  const flows = new FlowProducer({ connection, prefix: deps.redis.prefix });
  try {
    const jobIds: Array<{ queue: Queue; id: string }> = [{ queue: queues.recording, id: recordingJobId(recordingId) }];
    for (const s of segments) {
      for (const step of SEGMENT_STEPS) jobIds.push({ queue: queues.segment, id: segmentJobId(step, { recordingId, ...s }) });
    }
    for (const { queue, id } of jobIds) {
      const job = await queue.getJob(id);
      if (job && (await job.isActive())) {
        throw new SealError('CHAP_SEAL_BUSY', `job ${id} of recording ${recordingId} is still running; wait for it to end, then re-seal`, false);
      }
    }
    // Children first would leave a parent waiting on removed children; removing the parent with its
    // children takes the whole tree, and any orphan left by an earlier partial removal goes one by one.
    await queues.recording.remove(recordingJobId(recordingId), { removeChildren: true });
    for (const { queue, id } of jobIds) {
      if (await queue.getJob(id)) await queue.remove(id);
    }
    const left = [];
    for (const { queue, id } of jobIds) if (await queue.getJob(id)) left.push(id);
    if (left.length > 0) throw new SealError('CHAP_SEAL_BUSY', `jobs ${left.join(', ')} of recording ${recordingId} could not be removed (locked by a worker); try again shortly`, false);

    await inCatalogTransaction(deps.pool, 'record the re-seal', async (db) => {
      const { rowCount } = await db.query(
        `update recordings set state = case when exists (select 1 from recording_segments where recording_id = $1 and state <> 'spooled') then 'sealing' else 'spooled' end,
                failure_code = null, failure_detail = null
          where recording_id = $1 and state = 'failed'`,
        [recordingId],
      );
      if (rowCount !== 1) throw new SealError('CHAP_SEAL_CATALOG_STATE', `recording ${recordingId} changed state while re-sealing was prepared; look at it again`, true);
      await db.query('update recording_segments set failure_code = null, failure_detail = null where recording_id = $1', [recordingId]);
      await appendAudit(db, {
        event: 'recording.reseal-requested',
        actor: deps.actor,
        roomId: recording.roomId,
        subjectId: recordingId,
        details: { previousFailure: recording.failureCode, segmentsToSeal: pending, segmentsAlreadyVerified: verified, step: RECORDING_STEP },
      });
    });
    await flows.add(buildSealFlow(recordingId, segments, deps.retry ?? DEFAULT_RETRY));
    return { recordingId, segmentsToSeal: pending, segmentsAlreadyVerified: verified, previousFailure: recording.failureCode };
  } finally {
    await flows.close();
    await queues.recording.close();
    await queues.segment.close();
  }
}
