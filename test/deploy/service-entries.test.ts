import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './helm.js';

/**
 * The recorder and pipeline process entries (bot/main.ts, queue/main.ts), bundled as scripts/build.mjs does
 * and run as processes: a configuration they refuse stops them with exit 2 before they touch any
 * dependency, the setting and the fix named (the key service's entry: keyservice-entry.test.ts). Each
 * refusal itself is tested with the configuration (bot/recorder-config.test.ts, queue/config.test.ts).
 */
let dir: string;
const bundles: Record<'recorder' | 'pipeline', string> = { recorder: '', pipeline: '' };

beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, '.tmp/service-entries-'));
  for (const [name, entry] of [['recorder', 'bot/main.ts'], ['pipeline', 'queue/main.ts']] as const) {
    bundles[name] = join(dir, `${name}.mjs`);
    await build({ absWorkingDir: REPO_ROOT, entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', outfile: bundles[name], logLevel: 'silent' });
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(service: 'recorder' | 'pipeline', env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundles[service]], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
}

const recorderEnv = {
  CHAPERONE_REDIS_URL: 'rediss://redis.internal:6380',
  CHAPERONE_KEY_SERVICE_URL: 'http://chaperone-keyservice:8443',
  CHAPERONE_SFU_URL: 'wss://janus.internal/ws',
  CHAPERONE_RECORDER_TOKEN_FILE: '/etc/chaperone/secrets/recorder-token/token',
};

describe('recorder and pipeline process entries', () => {
  test('the recorder refuses an unknown setting and, in production, the development token issuer (exit 2)', async () => {
    expect(await start('recorder', { ...recorderEnv, CHAPERONE_RECORDER_MAX_CALL: '2' })).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/^recorder: refusing to start: CHAPERONE_RECORDER_MAX_CALL: is not a known setting; remove it or correct its name/),
    });
    const production = await start('recorder', { ...recorderEnv, CHAPERONE_ENV: 'production', CHAPERONE_DEV_TOKEN_SECRET: 'c2VjcmV0' });
    expect(production.status).toBe(2);
    expect(production.stderr).toMatch(/^recorder: refusing to start: CHAPERONE_DEV_TOKEN_SECRET: the development token issuer .* refused when CHAPERONE_ENV=production; unset it/);
  });

  test('the pipeline refuses a development configuration under CHAPERONE_ENV=production (exit 2, a JSON log line naming the field)', async () => {
    const config = join(dir, 'seal.json');
    writeFileSync(config, JSON.stringify({
      mode: 'development',
      spoolDir: '/var/spool/chaperone',
      redis: { url: 'redis://127.0.0.1:6379' },
      database: { url: 'postgres://pipeline@127.0.0.1/chaperone' },
      s3: { bucket: 'recordings', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4568', forcePathStyle: true, checksums: 'when-required' },
      keyRoot: { kind: 'local-raw-aes', keyFile: '/tmp/root.key' },
      signer: { kind: 'local-ed25519', keyFile: '/tmp/signer.pem' },
    }));
    const result = await start('pipeline', { CHAPERONE_ENV: 'production', CHAPERONE_SEAL_CONFIG: config });
    expect(result.status).toBe(2);
    const line = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { code: string; field: string; msg: string };
    expect(line).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 'mode' });
    expect(line.msg).toMatch(/set "mode": "production"/);
    const unknown = await start('pipeline', { CHAPERONE_SEAL_CONFIG: join(dir, 'missing.json') });
    expect(unknown.status).toBe(2);
    expect(JSON.parse(unknown.stdout.trim()) as { field: string }).toMatchObject({ field: 'CHAPERONE_SEAL_CONFIG' });
  });
});
