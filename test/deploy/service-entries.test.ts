import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './helm.js';

/**
 * The recorder, pipeline, records and lifecycle process entries (bot/main.ts, queue/main.ts, records/main.ts,
 * records/lifecycle/main.ts), bundled as scripts/build.mjs does
 * and run as processes: a configuration they refuse stops them with exit 2 before they touch any
 * dependency, the setting and the fix named (the key service's entry: keyservice-entry.test.ts). Each
 * refusal itself is tested with the configuration (bot/recorder-config.test.ts, queue/config.test.ts,
 * records/config.test.ts, records/lifecycle/config.test.ts).
 */
type Service = 'recorder' | 'pipeline' | 'records' | 'lifecycle';
const ENTRIES: Record<Service, string> = { recorder: 'bot/main.ts', pipeline: 'queue/main.ts', records: 'records/main.ts', lifecycle: 'records/lifecycle/main.ts' };
let dir: string;
const bundles: Record<Service, string> = { recorder: '', pipeline: '', records: '', lifecycle: '' };

beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, '.tmp/service-entries-'));
  await Promise.all(
    Object.entries(ENTRIES).map(async ([name, entry]) => {
      bundles[name as Service] = join(dir, `${name}.mjs`);
      await build({ absWorkingDir: REPO_ROOT, entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', outfile: bundles[name as Service], logLevel: 'silent' });
    }),
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(service: Service, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
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

  /** A pipeline configuration file in development mode (s3rver, local keys, plaintext Redis and PostgreSQL). */
  const developmentSealFile = () => {
    const config = join(dir, 'seal-dev.json');
    writeFileSync(config, JSON.stringify({
      mode: 'development',
      spoolDir: '/var/spool/chaperone',
      redis: { url: 'redis://127.0.0.1:6379' },
      database: { url: 'postgres://pipeline@127.0.0.1/chaperone' },
      s3: { bucket: 'recordings', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4568', forcePathStyle: true, checksums: 'when-required' },
      keyRoot: { kind: 'local-raw-aes', keyFile: '/tmp/root.key' },
      signer: { kind: 'local-ed25519', keyFile: '/tmp/signer.pem' },
    }));
    return config;
  };
  const secretFile = () => {
    const file = join(dir, 'secret-32');
    writeFileSync(file, Buffer.alloc(32, 7));
    return file;
  };

  test('the records service refuses an unknown setting and, in production, each development default (exit 2, the setting named on stderr)', async () => {
    const base = { CHAPERONE_SEAL_CONFIG: developmentSealFile(), CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile() };
    const refused = (result: { status: number | null; stderr: string }) => ({ status: result.status, line: result.stderr.split('\n')[0] });
    expect(refused(await start('records', { ...base, CHAPERONE_RECORDS_TOKEN_TTL: '60' }))).toEqual({
      status: 2,
      line: expect.stringMatching(/^records: refusing to start: CHAPERONE_RECORDS_TOKEN_TTL: is not a known setting; remove it or correct its name/),
    });
    const production = { ...base, CHAPERONE_ENV: 'production' };
    expect(refused(await start('records', production))).toEqual({
      status: 2,
      line: expect.stringMatching(/^records: refusing to start: CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: the HS256 development token issuer is a development default, refused when CHAPERONE_ENV=production; set CHAPERONE_RECORDS_TOKEN_JWKS_URL/),
    });
    const jwt = { CHAPERONE_ENV: 'production', CHAPERONE_SEAL_CONFIG: base.CHAPERONE_SEAL_CONFIG, CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'http://platform.example/jwks', CHAPERONE_RECORDS_TOKEN_ALGORITHMS: 'EdDSA', CHAPERONE_RECORDS_TOKEN_ISSUER: 'platform' };
    expect(refused(await start('records', jwt)).line).toMatch(/^records: refusing to start: CHAPERONE_RECORDS_TOKEN_JWKS_URL: a plain-http JWKS URL .* refused when CHAPERONE_ENV=production/);
    const https = { ...jwt, CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'https://platform.example/jwks' };
    expect(refused(await start('records', https)).line).toMatch(/^records: refusing to start: CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: a random in-memory playback key/);
    // Its own settings complete: the pipeline file's development defaults are refused next (s3rver, local keys…).
    const complete = { ...https, CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: base.CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE, CHAPERONE_RECORDS_WORK_DIR: '/run/chaperone/records' };
    expect(refused(await start('records', complete)).line).toMatch(/^records: refusing to start: mode: .*set "mode": "production"/);
  });

  test('the lifecycle process refuses an unknown or bad setting and, in production, a development pipeline file (exit 2, the setting named on stderr)', async () => {
    const base = { CHAPERONE_SEAL_CONFIG: developmentSealFile() };
    const unknown = await start('lifecycle', { ...base, CHAPERONE_RETENTION_SWEEP_EVERY: '1000' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^lifecycle: refusing to start: CHAPERONE_RETENTION_SWEEP_EVERY: is not a known setting/);
    const bad = await start('lifecycle', { ...base, CHAPERONE_RETENTION_SWEEP_EVERY_MS: '10' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^lifecycle: refusing to start: CHAPERONE_RETENTION_SWEEP_EVERY_MS: is not an integer from 1000 to 86400000/);
    const production = await start('lifecycle', { ...base, CHAPERONE_ENV: 'production' });
    expect(production.status).toBe(2);
    expect(production.stderr).toMatch(/^lifecycle: refusing to start: mode: .*refused in production/);
    // The same refusal as a JSON log line for the log pipeline.
    expect(JSON.parse(production.stdout.trim().split('\n').at(-1)!) as { field: string }).toMatchObject({ field: 'mode' });
  });
});
