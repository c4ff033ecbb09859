import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../devstack/free-port.js';
import { waitFor } from '../../devstack/wait-for.js';
import { listObjectKeys } from '../../queue/testing/inspect.js';
import { testMedia } from '../../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../../queue/testing/stack.js';
import { sealer } from './testing/sealed-recording.js';
import { listTombstones } from './tombstone.js';

jest.setTimeout(120_000);

const BUNDLE = fileURLToPath(new URL('../../dist/node/lifecycle.mjs', import.meta.url));

/** The lifecycle process as deployed (the esbuild bundle; `npm run build` first): its scheduler deletes what is due, SIGTERM stops it cleanly. */
describe('lifecycle process (dist/node/lifecycle.mjs)', () => {
  let stack: SealTestStack;
  let dir: string;

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    dir = await mkdtemp(join(tmpdir(), 'chaperone-lifecycle-process-'));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a recording whose retention ended is deleted by the scheduled sweep; SIGTERM exits 0', async () => {
    expect(existsSync(BUNDLE) ? 'built' : 'run `node scripts/build.mjs` before this test').toBe('built');
    const seal = sealer(stack);
    const [{ recording: due }, { recording: kept }] = [await seal.seal(), await seal.seal()];
    // A recording sealed long ago: its deadline (catalog and manifest) has passed by the real clock.
    await stack.pool.query(`update recordings set retention_until = now() - interval '1 day' where recording_id = $1`, [due.recordingId]);
    const configFile = join(dir, 'seal.json');
    await stack.writeSealConfig(configFile, { redisPrefix: 'lifecycle-test', logLevel: 'info' });
    const opsPort = await freePort();
    const child = spawn(process.execPath, [BUNDLE], {
      env: { ...process.env, CHAPERONE_SEAL_CONFIG: configFile, CHAPERONE_RETENTION_SWEEP_EVERY_MS: '1000', CHAPERONE_OPS_PORT: String(opsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the due recording deleted by the lifecycle process', async () => (await listTombstones(stack.pool, due.recordingId)).length === 1, 60_000, 100);
      // The ops listener: dependencies reachable; the sweep that deleted it counted and stamped.
      const ops = `http://127.0.0.1:${opsPort}`;
      expect(await (await fetch(`${ops}/readyz`)).json()).toEqual({ status: 'ready', checks: { postgres: 'ok', s3: 'ok', kms: 'ok', redis: 'ok' } });
      expect((await fetch(`${ops}/healthz`)).status).toBe(200);
      let metrics = '';
      await waitFor('the sweep counted', async () => /^chaperone_lifecycle_recordings_deleted_total\{service="lifecycle"\} 1$/m.test((metrics = await (await fetch(`${ops}/metrics`)).text())), 10_000, 100);
      expect(Number(/^chaperone_lifecycle_sweeps_total\{outcome="ok",service="lifecycle"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      const last = Number(/^chaperone_lifecycle_last_successful_sweep_timestamp_seconds\{service="lifecycle"\} (\S+)$/m.exec(metrics)?.[1]);
      expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
      expect(metrics).not.toContain(due.recordingId);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('retention scheduler started');
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${due.recordingId}/`)).toEqual([]);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${kept.recordingId}/`)).toHaveLength(3);
    expect(await listTombstones(stack.pool, kept.recordingId)).toEqual([]);
  });
});
