import { join } from 'node:path';
import { type Participant } from '../../devstack/call-stack.js';
import { waitFor } from '../../devstack/wait-for.js';
import { keyServiceCredentialSource } from '../../bot/recorder-credentials.js';
import { RecorderMetrics } from '../../bot/recorder-metrics.js';
import { recorderReadiness } from '../../bot/recorder-readiness.js';
import { startRecorderService, type RecorderService } from '../../bot/recorder-service.js';
import { sealRequestFor } from '../../bot/seal-handoff.js';
import { BullMqRecorderDispatcher } from '../../keyservice/bullmq-recorder-dispatcher.js';
import { decide, joinConsentParticipant, setRecordingPolicy, startConsentCallStack, type ConsentCallStack } from '../../keyservice/consent-call-harness.js';
import { createMetricsRegistry } from '../../ops/metrics.js';
import { startOpsServer, type OpsServer } from '../../ops/ops-server.js';
import { enqueueSealRecording, type SealEnqueuer, type SealWorkers } from '../../queue/index.js';
import { instrumentSealWorkers, type SealMetrics } from '../../queue/seal-metrics.js';
import { startSealTestStack, type SealTestStack } from '../../queue/testing/stack.js';

/**
 * The metrics an SRE alerts on, scraped from each service's ops listener during a real recording: the
 * key service (consent-to-join latency), the recorder (a BullMQ worker taking the key service's record job:
 * active recordings, frames decrypted per kind, frames failed per reason) and the sealing pipeline (queue
 * depth, seal latency). Wired as the service entries wire them (bot/main.ts, queue/main.ts,
 * keyservice/main.ts). Two participants consent, the recorder records a few seconds, one withdraws: the
 * recorder is removed, hands the recording to sealing, and the pipeline seals it.
 */

const RECORD_MS = 4000;

/** One sample of a scrape: `name{labels} value` (labels matched as a subset). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(ops: OpsServer): Promise<string> {
  const response = await fetch(`${ops.url}/metrics`);
  if (response.status !== 200) throw new Error(`scrape ${ops.url}: ${response.status}`);
  return response.text();
}

describe('metrics during an end-to-end recording', () => {
  let seal: SealTestStack;
  let stack: ConsentCallStack;
  let people: Participant[] = [];
  let recordQueue: BullMqRecorderDispatcher;
  let recorder: RecorderService;
  let workers: SealWorkers;
  let sealMetrics: SealMetrics;
  let enqueuer: SealEnqueuer & { close(): Promise<void> };
  const ops: Record<'keyservice' | 'recorder' | 'pipeline', OpsServer> = {} as never;
  const handedOver: string[] = [];
  let forwarding: (() => void) | undefined;

  beforeAll(async () => {
    seal = await startSealTestStack();
    const registries = {
      keyservice: createMetricsRegistry('keyservice', { processMetrics: false }),
      recorder: createMetricsRegistry('recorder', { processMetrics: false }),
      pipeline: createMetricsRegistry('pipeline', { processMetrics: false }),
    };
    stack = await startConsentCallStack({ workDir: join(process.cwd(), '.tmp', 'e2e-metrics'), roomId: 'room-metrics', sfuRoom: 5031, metrics: registries.keyservice });
    ops.keyservice = await startOpsServer({ host: '127.0.0.1', port: 0, registry: registries.keyservice });

    // Record jobs travel through BullMQ as in production: the harness's dispatch goes onto the record queue.
    recordQueue = new BullMqRecorderDispatcher({ connection: { url: seal.redis.url } });
    forwarding = stack.dispatcher.on((event) => void (event.kind === 'dispatch' ? recordQueue.dispatch(event.job) : recordQueue.stop(event.stop)));

    const prefix = seal.prefix();
    enqueuer = seal.enqueuer(prefix);
    workers = seal.workers(seal.services(), prefix);
    sealMetrics = instrumentSealWorkers(workers, registries.pipeline, { connection: { url: seal.redis.url }, prefix });
    ops.pipeline = await startOpsServer({ host: '127.0.0.1', port: 0, registry: registries.pipeline });

    const current: { service?: RecorderService } = {};
    const metrics = new RecorderMetrics(registries.recorder, () => current.service?.active().size ?? 0);
    recorder = await startRecorderService({
      metrics,
      redisUrl: seal.redis.url,
      sfuUrl: stack.janus.wsUrl,
      spoolDir: seal.spoolDir,
      pageUrl: `${stack.web.url}/recorder/index.html`,
      maxConcurrentCalls: 1,
      credentials: keyServiceCredentialSource({ keyServiceHttpUrl: stack.keyService.url, serviceToken: () => stack.tokens.issue({ sub: 'recorder-svc', role: 'recorder' }) }),
      onRecordingFinished: async (job, manifest) => {
        await enqueueSealRecording(enqueuer, sealRequestFor(job, manifest, []));
        handedOver.push(job.recordingId);
      },
    });
    current.service = recorder;
    ops.recorder = await startOpsServer({ host: '127.0.0.1', port: 0, registry: registries.recorder, readiness: recorderReadiness(recorder, seal.spoolDir) });
  }, 120_000);

  afterAll(async () => {
    forwarding?.();
    await Promise.all(people.map((p) => p.close()));
    await recorder?.abort();
    await Promise.all(Object.values(ops).map((o) => o.close()));
    await sealMetrics?.close();
    await workers?.close();
    await enqueuer?.close();
    await recordQueue?.close();
    await stack?.stop();
    await seal?.stop();
  });

  test('recorder, key service and pipeline expose the listed metrics with plausible values', async () => {
    // Before any call: the families are there, at zero.
    const idle = await scrape(ops.recorder);
    expect(sample(idle, 'chaperone_recorder_active_recordings')).toBe(0);
    expect((await fetch(`${ops.recorder.url}/readyz`)).status).toBe(200);
    expect(sample(await scrape(ops.keyservice), 'chaperone_keyservice_consent_to_join_seconds_count')).toBe(0);
    const queued = await scrape(ops.pipeline);
    for (const queue of ['chaperone-seal-segment', 'chaperone-seal-recording']) expect(sample(queued, 'chaperone_seal_queue_depth', { queue })).toBe(0);

    await setRecordingPolicy(stack, { enabled: true, purpose: 'medical-record', statement: 'This visit is recorded for your medical record.' });
    people = [
      await joinConsentParticipant(stack, { id: 'p-mia', name: 'Mia', colorHex: '0xC02020', toneHz: 440, role: 'patient' }),
      await joinConsentParticipant(stack, { id: 'c-noa', name: 'Dr. Noa', colorHex: '0x2040C0', toneHz: 660, role: 'clinician' }),
    ];
    for (const p of people) {
      await waitFor(`${p.name} to see the consent prompt`, async () => (await p.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 1);
      await decide(p, 'grant');
    }

    // Recording: one active, frames of both kinds decrypted and counted.
    await waitFor('the recorder to record', async () => sample(await scrape(ops.recorder), 'chaperone_recorder_active_recordings') === 1, 30_000);
    await waitFor('decrypted frames of both kinds', async () => {
      const text = await scrape(ops.recorder);
      return (sample(text, 'chaperone_recorder_frames_decrypted_total', { kind: 'video' }) ?? 0) > 0 && (sample(text, 'chaperone_recorder_frames_decrypted_total', { kind: 'audio' }) ?? 0) > 0;
    }, 30_000);
    const early = await scrape(ops.recorder);
    await new Promise((r) => setTimeout(r, RECORD_MS));
    const during = await scrape(ops.recorder);
    expect(sample(during, 'chaperone_recorder_active_recordings')).toBe(1);
    // About 30 video and 50 audio frames a second per participant reach the recorder; ask for a third.
    const seconds = RECORD_MS / 1000;
    const increase = (kind: string) => sample(during, 'chaperone_recorder_frames_decrypted_total', { kind })! - sample(early, 'chaperone_recorder_frames_decrypted_total', { kind })!;
    expect(increase('video')).toBeGreaterThan(2 * 10 * seconds);
    expect(increase('audio')).toBeGreaterThan(2 * 15 * seconds);
    // Failures, if any, are few against what was decrypted (late frames of a previous epoch, say).
    const failed = [...during.matchAll(/^chaperone_recorder_frames_failed_total\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(failed).toBeLessThan(0.05 * (sample(during, 'chaperone_recorder_frames_decrypted_total', { kind: 'video' })! + sample(during, 'chaperone_recorder_frames_decrypted_total', { kind: 'audio' })!));

    // Consent to join: observed once, within the time the recorder took to get in.
    const keyservice = await scrape(ops.keyservice);
    expect(sample(keyservice, 'chaperone_keyservice_consent_to_join_seconds_count')).toBe(1);
    const consentToJoinS = sample(keyservice, 'chaperone_keyservice_consent_to_join_seconds_sum')!;
    expect(consentToJoinS).toBeGreaterThan(0);
    expect(consentToJoinS).toBeLessThan(30);
    expect(sample(keyservice, 'chaperone_keyservice_rooms')).toBe(1);

    // Withdrawal: the recorder is removed from the group, finishes, and hands the recording to sealing.
    await decide(people[1]!, 'revoke');
    await waitFor('the recording to be handed to sealing', () => handedOver.length === 1, 30_000);
    const after = await scrape(ops.recorder);
    expect(sample(after, 'chaperone_recorder_active_recordings')).toBe(0);
    // Removed from the group, or stopped by the key service's stop event, whichever reached it first.
    const ended = [...after.matchAll(/^chaperone_recorder_recordings_total\{[^}]*end_reason="([a-z-]+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(ended).toHaveLength(1);
    expect(ended[0]![1]).toBe(1);
    expect(['removed-from-group', 'stopped']).toContain(ended[0]![0]);

    // Sealed: the seal latency observed once, from the enqueue; the queues empty again.
    await waitFor('the seal latency to be observed', async () => sample(await scrape(ops.pipeline), 'chaperone_seal_latency_seconds_count') === 1, 60_000);
    const sealed = await scrape(ops.pipeline);
    const sealS = sample(sealed, 'chaperone_seal_latency_seconds_sum')!;
    expect(sealS).toBeGreaterThan(0);
    expect(sealS).toBeLessThan(60);
    expect(sample(sealed, 'chaperone_seal_queue_jobs', { queue: 'chaperone-seal-recording', state: 'completed' })).toBe(1);
    // hash, store and verify for each of the four tracks (one segment each)
    expect(sample(sealed, 'chaperone_seal_queue_jobs', { queue: 'chaperone-seal-segment', state: 'completed' })).toBe(3 * 4);
    for (const queue of ['chaperone-seal-segment', 'chaperone-seal-recording']) expect(sample(sealed, 'chaperone_seal_queue_depth', { queue })).toBe(0);
  }, 150_000);
});
