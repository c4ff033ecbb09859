import { jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { freePort } from '../devstack/free-port.js';
import { getObjectBytes } from '../queue/testing/inspect.js';
import { readAudit } from '../audit/index.js';
import { runChaperoneCaptured } from '../cli/testing/run-captured.js';
import { issueDevToken, type PlatformRole } from '../keyservice/tokens.js';
import { silentLogger } from '../queue/logger.js';
import { testMedia, type SpoolFixture } from '../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../queue/testing/stack.js';
import { recordsConfigFromEnv } from './config.js';
import { startRecordsService, type RecordsService } from './service.js';
import { sealedFixture } from './testing/seal-directly.js';

jest.setTimeout(120_000);

/**
 * The records service as deployed (configuration from the environment, the pipeline's configuration file,
 * its own port) and `chaperone list` as records staff run it (platform token file, the same file).
 */
describe('records service entry and chaperone list', () => {
  let stack: SealTestStack;
  let dir: string;
  let fixture: SpoolFixture;
  let secretFile: string;
  let secret: Buffer;
  let sealConfig: string;
  let service: RecordsService | undefined;

  const tokenFile = async (role: PlatformRole, sub: string, audience?: string, room?: string) => {
    const file = join(dir, `${sub}-${audience ?? 'default'}.jwt`);
    await writeFile(file, await issueDevToken(secret, { sub, role, ...(room ? { room } : {}) }, audience ? { audience } : {}));
    return file;
  };

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    dir = await mkdtemp(join(tmpdir(), 'chaperone-records-entry-'));
    secret = randomBytes(24);
    secret = Buffer.from(secret.toString('hex')); // printable: the CLI's verifier reads the file as text
    secretFile = join(dir, 'dev-secret');
    await writeFile(secretFile, secret);
    sealConfig = join(dir, 'seal.json');
    await stack.writeSealConfig(sealConfig);
    fixture = await sealedFixture(stack.services(), stack.spoolDir);
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the service starts from its environment, serves the catalog to a records officer, and closes', async () => {
    const env = { CHAPERONE_SEAL_CONFIG: sealConfig, CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile, CHAPERONE_RECORDS_PORT: '0', CHAPERONE_RECORDS_WORK_DIR: join(dir, 'work') };
    service = await startRecordsService(recordsConfigFromEnv(env), env, silentLogger);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const token = await issueDevToken(secret, { sub: 'ro-1', role: 'records-officer' }, { audience: 'chaperone-records' });
    const listed = await fetch(`${service.url}/v1/recordings`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { recordings: Array<{ recordingId: string }> }).recordings.map((r) => r.recordingId)).toEqual([fixture.request.recordingId]);
    await service.close();
    service = undefined;
  });

  test('chaperone list: role-scoped rows, JSON, refusals that say what to do, audited', async () => {
    const cli = (env: NodeJS.ProcessEnv, ...args: string[]) => runChaperoneCaptured(env, args);
    const base = { CHAPERONE_SEAL_CONFIG: sealConfig, RECORDS_DEV_TOKEN_SECRET_FILE: secretFile };
    const id = fixture.request.recordingId;

    const officer = await cli({ ...base, CHAPERONE_STAFF_TOKEN_FILE: await tokenFile('records-officer', 'ro-cli') }, 'list');
    expect(officer.code).toBe(0);
    const rows = officer.out.trim().split('\n');
    expect(rows[0]).toBe('recording\troom\tstate\tstarted\tlength\tplayback\ttracks');
    expect(rows[1]!.split('\t')).toEqual([id, 'room-telehealth-42', 'sealed', new Date(fixture.request.startedAtMs).toISOString(), '10s', 'playable', 't01-video,t02-audio']);

    const patient = await cli({ ...base, CHAPERONE_STAFF_TOKEN_FILE: await tokenFile('patient', 'patient-7f3a9c', undefined, 'room-telehealth-42') }, 'list', '--json');
    expect(patient.code).toBe(0);
    const body = JSON.parse(patient.out) as { recordings: Array<{ tracks: Array<{ trackId: string }> }> };
    expect(body.recordings[0]!.tracks.map((t) => t.trackId)).toEqual(['t01-video']);
    expect(JSON.parse((await cli({ ...base, CHAPERONE_STAFF_TOKEN_FILE: await tokenFile('records-officer', 'ro-cli') }, 'list', '--room', 'room-b', '--json')).out).recordings).toEqual([]);

    const operator = await cli({ ...base, CHAPERONE_STAFF_TOKEN_FILE: await tokenFile('operator', 'op-cli') }, 'list');
    expect(operator.code).toBe(1);
    expect(operator.err).toMatch(/^chaperone list: forbidden — a operator may not list recordings/);
    expect((await cli({ ...base }, 'list')).err).toMatch(/who is asking\? give your platform token with --token-file/);
    const bad = await cli({ ...base, CHAPERONE_STAFF_TOKEN_FILE: await tokenFile('records-officer', 'ro-cli') }, 'list', '--from', 'yesterday');
    expect([bad.code, bad.err.split('\n')[0]]).toEqual([2, 'chaperone list: --from must be epoch milliseconds or an ISO 8601 UTC time (2026-11-23T10:00:00Z)']);
    expect((await cli(base, 'list', '--colour', 'red')).code).toBe(2);

    const events = await readAudit(stack.pool, { limit: 5000 });
    expect(events.some((e) => e.event === 'records.listed' && e.actorId === 'ro-cli' && e.details.via === 'cli' && e.details.results === 1)).toBe(true);
    expect(events.some((e) => e.event === 'records.listed' && e.outcome === 'refused' && e.actorId === 'op-cli')).toBe(true);
  });

  test('the service process (records/main.ts) survives clients that go away and a tampered object, and stops on SIGTERM', async () => {
    const repo = fileURLToPath(new URL('..', import.meta.url));
    const bundle = join(repo, '.tmp', `records-entry-${process.pid}.mjs`);
    await build({ entryPoints: [join(repo, 'records', 'main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node24', packages: 'external', outfile: bundle, logLevel: 'warning' });
    const services = stack.services();
    const [intact, tampered] = [await sealedFixture(services, stack.spoolDir, { videoSegments: 'big' }), await sealedFixture(services, stack.spoolDir, { videoSegments: 'big' })];
    const videoKey = `recordings/${tampered.request.recordingId}/t01-video/001.esdk`;
    const stored = await getObjectBytes(stack.s3Client(), stack.bucket, videoKey);
    stored[stored.length - 3000]! ^= 0x01;
    await stack.s3Client().send(new PutObjectCommand({ Bucket: stack.bucket, Key: videoKey, Body: stored }));

    const port = await freePort();
    const opsPort = await freePort();
    const child: ChildProcess = spawn(process.execPath, [bundle], {
      env: {
        PATH: process.env.PATH,
        CHAPERONE_SEAL_CONFIG: sealConfig,
        CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile,
        CHAPERONE_RECORDS_PORT: String(port),
        CHAPERONE_RECORDS_WORK_DIR: join(dir, 'work-child'),
        CHAPERONE_RECORDS_HOLD_BACK_MIB: '1',
        CHAPERONE_RECORDS_INSECURE_COOKIES: 'true',
        CHAPERONE_OPS_PORT: String(opsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.resume();
    let exited: number | null | undefined;
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exited = code))));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (text: Buffer) => text.toString().includes('records service ready') && resolve());
        void exit.then((code) => reject(new Error(`records exited ${code}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const bearer = `Bearer ${await issueDevToken(secret, { sub: 'ro-proc', role: 'records-officer' }, { audience: 'chaperone-records' })}`;
      const session = async (recordingId: string) => {
        const issued = await fetch(`${base}/v1/recordings/${recordingId}/tracks/t01-video/segments/1/playback-tokens`, { method: 'POST', headers: { authorization: bearer } });
        const { token } = (await issued.json()) as { token: string };
        const opened = await fetch(`${base}/v1/playback/sessions`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
        return (await opened.json()) as { url: string; secret: string };
      };
      // A player that goes away after the first bytes.
      const one = await session(intact.request.recordingId);
      const controller = new AbortController();
      const response = await fetch(`${base}${one.url}`, { headers: { 'x-chaperone-playback-secret': one.secret }, signal: controller.signal });
      const reader = response.body!.getReader();
      await reader.read();
      controller.abort();
      // A tampered object: the stream starts, then stops short; the full file never arrives.
      const two = await session(tampered.request.recordingId);
      const cut = await fetch(`${base}${two.url}`, { headers: { 'x-chaperone-playback-secret': two.secret } });
      expect(cut.status).toBe(200);
      await expect(cut.arrayBuffer()).rejects.toThrow();
      // Still serving, and an intact playback is byte-identical.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const whole = Buffer.from(await (await fetch(`${base}${one.url}`, { headers: { 'x-chaperone-playback-secret': one.secret } })).arrayBuffer());
      expect(whole.equals(intact.originals.get('t01-video-s01.webm')!)).toBe(true);
      // The ops listener: ready with its dependencies reachable, and metrics counted from the audited events.
      const ops = `http://127.0.0.1:${opsPort}`;
      expect(await (await fetch(`${ops}/readyz`)).json()).toEqual({ status: 'ready', checks: { accepting: 'ok', postgres: 'ok', s3: 'ok', kms: 'ok' } });
      const metrics = await (await fetch(`${ops}/metrics`)).text();
      const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 'NaN');
      expect(value('chaperone_records_playback_sessions_total{outcome="ok",service="records"}')).toBe(2);
      expect(value('chaperone_records_integrity_refusals_total{service="records"}')).toBe(1);
      expect(value('chaperone_records_plays_total{outcome="ok",service="records"}')).toBe(1);
      expect(value('chaperone_records_plays_total{outcome="failed",service="records"}')).toBe(2);
      expect(value('chaperone_records_playback_bytes_total{service="records"}')).toBeGreaterThanOrEqual(whole.length);
      expect(metrics).not.toContain(intact.request.recordingId);
      expect(exited).toBeUndefined();
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (exited === undefined) child.kill('SIGKILL');
      await rm(bundle, { force: true });
      await rm(`${bundle}.map`, { force: true });
    }
    const events = await readAudit(stack.pool, { limit: 5000 });
    expect(events.some((e) => e.event === 'records.integrity-failed' && e.subjectId === tampered.request.recordingId)).toBe(true);
    expect(events.some((e) => e.event === 'records.played' && e.subjectId === intact.request.recordingId && e.outcome === 'failed')).toBe(true);
  });
});
