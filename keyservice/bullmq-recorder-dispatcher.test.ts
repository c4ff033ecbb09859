import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { parseRecordJobData } from '../bot/record-job.js';
import { freePort } from '../devstack/free-port.js';
import { startRedisServer, type RedisServer } from '../devstack/redis-server.js';
import { BullMqRecorderDispatcher } from './bullmq-recorder-dispatcher.js';
import { RECORD_JOB, RECORDER_STOP_EVENT, type RecordJobData } from './recorder-jobs.js';

/** The BullMQ dispatcher against a real Redis (noeviction, AOF): a worker gets the job, and the stop. */

let redis: RedisServer;
let connection: { host: string; port: number; maxRetriesPerRequest: null };
let counter = 0;
const queueName = () => `recorder-test-${process.pid}-${++counter}`;

beforeAll(async () => {
  redis = await startRedisServer({ port: await freePort() });
  connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

function job(overrides: Partial<RecordJobData> = {}): RecordJobData {
  return {
    jobId: `rec-${counter}-${Date.now()}`,
    roomId: 'room-42',
    sfuRoom: 4242,
    policyVersion: 3,
    purpose: 'medical-record',
    part2: false,
    retentionDays: 3650,
    keyServiceUrl: 'http://127.0.0.1:8443',
    deliveryUrl: 'ws://127.0.0.1:8443/mls',
    dispatchedAtMs: Date.now(),
    ...overrides,
  };
}

describe('BullMqRecorderDispatcher', () => {
  test('a recorder worker receives the record job (once, however often dispatched) and the stop event', async () => {
    const name = queueName();
    const dispatcher = new BullMqRecorderDispatcher({ connection, queueName: name });
    const events = new QueueEvents(name, { connection });
    await events.waitUntilReady();
    const stops: Array<Record<string, string>> = [];
    events.on(RECORDER_STOP_EVENT as never, ((args: Record<string, string>) => stops.push(args)) as never);
    const received: Job[] = [];
    let release: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (release = resolve));
    const worker = new Worker(
      name,
      async (j) => {
        received.push(j);
        await stopped; // records until told to stop
        return { ok: true };
      },
      { connection },
    );
    try {
      const dispatched = job();
      await dispatcher.dispatch(dispatched);
      await dispatcher.dispatch(dispatched); // idempotent per job id
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(received).toHaveLength(1);
      const got = received[0]!;
      expect(got.name).toBe(RECORD_JOB);
      expect(got.id).toBe(dispatched.jobId);
      // The recorder's own parser accepts it: the shared contract of bot/record-job.ts.
      expect(parseRecordJobData(got.data)).toEqual({
        recordingId: dispatched.jobId,
        roomId: 'room-42',
        sfuRoom: 4242,
        policy: { policyVersion: 3, purpose: 'medical-record', retentionDays: 3650, part2: false },
      });
      expect(got.data).toMatchObject({ jobId: dispatched.jobId, policyVersion: 3, purpose: 'medical-record', part2: false });
      expect(Object.keys(got.data).sort()).toEqual(
        ['deliveryUrl', 'dispatchedAtMs', 'jobId', 'keyServiceUrl', 'part2', 'policyVersion', 'purpose', 'recordingId', 'retentionDays', 'roomId', 'sfuRoom'].sort(),
      );

      await dispatcher.stop({ jobId: dispatched.jobId, roomId: 'room-42', reason: 'consent-revoked' });
      while (stops.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(stops[0]).toMatchObject({ jobId: dispatched.jobId, roomId: 'room-42', reason: 'consent-revoked' });
      release();
      // The active job stays (it is locked by its worker) and completes normally.
      while (!(await got.isCompleted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await got.isCompleted()).toBe(true);
    } finally {
      release();
      await worker.close();
      await events.close();
      await dispatcher.close();
    }
  });

  test('a stop before any recorder took the job removes it from the queue', async () => {
    const name = queueName();
    const dispatcher = new BullMqRecorderDispatcher({ connection, queueName: name });
    const queue = new Queue(name, { connection });
    try {
      const dispatched = job();
      await dispatcher.dispatch(dispatched);
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
      await dispatcher.stop({ jobId: dispatched.jobId, roomId: 'room-42', reason: 'joiner-without-consent' });
      expect(await queue.getJob(dispatched.jobId)).toBeUndefined();
      // Stopping a job that does not exist (any more) is fine.
      await dispatcher.stop({ jobId: 'rec-never', roomId: 'room-42', reason: 'room-ended' });
    } finally {
      await queue.close();
      await dispatcher.close();
    }
  });

  test('refuses bad options and job ids, naming them', async () => {
    expect(() => new BullMqRecorderDispatcher({ connection, queueName: 'a:b' })).toThrow('options.queueName');
    const dispatcher = new BullMqRecorderDispatcher({ connection, queueName: queueName() });
    await expect(dispatcher.dispatch(job({ jobId: 'has:colon' }))).rejects.toThrow('job.jobId');
    await dispatcher.close();
  });
});
