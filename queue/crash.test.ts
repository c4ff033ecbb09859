import { jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { waitFor } from '../devstack/wait-for.js';
import { enqueueSealRecording } from './contract.js';
import { listSegments } from './catalog.js';
import { segmentJobId } from './jobs.js';
import { verifyRecording } from './verify-recording.js';
import { spoolRecording, testMedia } from './testing/media.js';
import { startSealTestStack, type SealTestStack } from './testing/stack.js';
import { listObjectKeys, sealedAndReleased, waitForRecording } from './testing/inspect.js';

/**
 * Workers in separate processes, really killed: SIGKILL mid-upload (the job stalls, another worker takes it
 * over and completes it with the same final object and no duplicate rows) and SIGTERM mid-upload (the
 * active job finishes, no new one starts, exit 0).
 */

const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const fixtureBundle = join(repoRoot, '.tmp', 'queue-fixtures', `worker-fixture-${process.pid}.mjs`);

interface Child {
  process: ChildProcess;
  lines: string[];
  waitForLine(line: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Integration tests wait for events; these bounds only matter on a heavily loaded machine.
jest.setTimeout(120_000);

describe('sealing workers killed mid-job (separate processes)', () => {
  let stack: SealTestStack;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [stack] = await Promise.all([
      startSealTestStack(),
      testMedia(),
      build({ entryPoints: [join(repoRoot, 'queue/testing/worker-fixture.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node24', packages: 'external', outfile: fixtureBundle, logLevel: 'warning' }),
    ]);
  }, 120_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
  });

  function startWorkerProcess(prefix: string, fault: 'hang-after-first-part' | 'slow-parts', lockDurationMs: number): Child {
    const fixture = {
      redisUrl: stack.redis.url,
      prefix,
      databaseUrl: stack.postgres.url,
      spoolDir: stack.spoolDir,
      bucket: stack.bucket,
      s3: stack.s3.clientConfig,
      kms: { endpoint: stack.kms.endpoint, region: stack.kms.region, credentials: stack.kms.credentials },
      rootKeyArn: stack.rootKeyArn,
      signingKeyArn: stack.signingKeyArn,
      lockDurationMs,
      stalledIntervalMs: 500,
      fault,
    };
    const child = spawn(process.execPath, [fixtureBundle], { cwd: repoRoot, env: { ...process.env, CHAPERONE_FIXTURE: JSON.stringify(fixture) }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines: string[] = [];
    const waiters: Array<{ line: string; resolve: () => void }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.filter((w) => w.line === line)) w.resolve();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return {
      process: child,
      lines,
      exited,
      waitForLine(line, timeoutMs = 90_000) {
        if (lines.includes(line)) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`worker process did not print "${line}" within ${timeoutMs} ms (printed: ${lines.join(', ')})`)), timeoutMs);
          waiters.push({ line, resolve: () => (clearTimeout(timer), resolve()) });
          void exited.then(({ code, signal }) => reject(new Error(`worker process exited (${code ?? signal}) before printing "${line}"`)));
        });
      },
    };
  }

  test('SIGKILL mid-upload: the job stalls, another worker completes it — same final object, no duplicate rows, the stale upload aborted', async () => {
    const prefix = stack.prefix();
    const { request, originals } = await spoolRecording(stack.spoolDir, { videoSegments: 'big' });
    await enqueueSealRecording(stack.enqueuer(prefix), request);
    const victim = startWorkerProcess(prefix, 'hang-after-first-part', 2000);
    await victim.waitForLine('mid-upload');
    victim.process.kill('SIGKILL');
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The dead worker left a multipart upload open and the job active under its (expiring) lock.
    const videoKey = `recordings/${request.recordingId}/t01-video/001.esdk`;
    expect((await stack.s3.listIncompleteUploads()).filter((u) => u.key === videoKey)).toHaveLength(1);
    const queues = stack.queues(prefix);
    const storeId = segmentJobId('store-segment', { recordingId: request.recordingId, trackId: 't01-video', segmentNo: 1 });
    expect(await (await queues.segment.getJob(storeId))!.getState()).toBe('active');

    const services = stack.services();
    stack.workers(services, prefix, { stalledIntervalMs: 500 });
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);

    const store = await queues.segment.getJob(storeId);
    expect(await store!.getState()).toBe('completed');
    expect(store!.stalledCounter).toBe(1);
    expect((await stack.s3.listIncompleteUploads()).filter((u) => u.key.includes(request.recordingId))).toEqual([]);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${request.recordingId}/`)).toEqual([
      `recordings/${request.recordingId}/manifest.esdk`,
      videoKey,
      `recordings/${request.recordingId}/t02-audio/001.esdk`,
    ]);
    const segments = await listSegments(stack.pool, request.recordingId);
    expect(segments.map((s) => [s.trackId, s.segmentNo, s.state])).toEqual([
      ['t01-video', 1, 'verified'],
      ['t02-audio', 1, 'verified'],
    ]);
    const { rows } = await stack.pool.query('select scope, track_id from recording_keys where recording_id = $1 order by 1, 2', [request.recordingId]);
    expect(rows).toEqual([
      { scope: 'recording', track_id: '' },
      { scope: 'track', track_id: 't01-video' },
      { scope: 'track', track_id: 't02-audio' },
    ]);
    const report = await verifyRecording({ db: stack.pool, store: services.store, keyRoot: services.keyRoot }, request.recordingId);
    expect(report.ok).toBe(true);
    expect(report.segments.find((s) => s.trackId === 't01-video')!.plaintextBytes).toBe(originals.get('t01-video-s01.webm')!.length);
  });

  test('SIGTERM mid-upload drains: the active job finishes, no new job starts, the process exits 0', async () => {
    const prefix = stack.prefix();
    const { request } = await spoolRecording(stack.spoolDir, { videoSegments: 'big' });
    await enqueueSealRecording(stack.enqueuer(prefix), request);
    const worker = startWorkerProcess(prefix, 'slow-parts', 30_000);
    await worker.waitForLine('mid-upload');
    worker.process.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.lines.slice(-2)).toEqual(['drained', 'exit 0']);

    const queues = stack.queues(prefix);
    const key = { recordingId: request.recordingId, trackId: 't01-video', segmentNo: 1 };
    expect(await (await queues.segment.getJob(segmentJobId('store-segment', key)))!.getState()).toBe('completed');
    // Its successor became runnable during the drain and was left for others.
    const verify = await queues.segment.getJob(segmentJobId('verify-segment', key));
    expect(await verify!.getState()).toBe('waiting');
    expect(verify!.processedOn).toBeUndefined();
    expect(await queues.segment.getActiveCount()).toBe(0);
    expect((await listSegments(stack.pool, request.recordingId)).find((s) => s.trackId === 't01-video')!.state).toBe('stored');

    stack.workers(stack.services(), prefix);
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    await waitFor('verify completed', async () => (await queues.segment.getJob(verify!.id!))!.getState().then((s) => s === 'completed'), 90_000);
  });
});
