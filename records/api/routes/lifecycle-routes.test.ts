import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { createHs256TokenVerifier, issueDevToken, type PlatformRole } from '../../../keyservice/tokens.js';
import { silentLogger } from '../../../queue/logger.js';
import { listObjectKeys } from '../../../queue/testing/inspect.js';
import { testMedia } from '../../../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../../../queue/testing/stack.js';
import { ManualClock } from '../../lifecycle/clock.js';
import { sealer, type Sealer } from '../../lifecycle/testing/sealed-recording.js';
import { PlaybackTokens } from '../../playback-tokens.js';
import type { RecordsApiDeps } from '../context.js';
import { buildRecordsApi } from '../server.js';
import { httpTestClient } from '../../testing/http-client.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const AUDIENCE = 'chaperone-records';


/** Hold, release, delete and export over the records API, against the real stack. */
describe('records API: lifecycle and export routes', () => {
  let stack: SealTestStack;
  let seal: Sealer;
  let server: FastifyInstance;
  let app: ReturnType<typeof httpTestClient>;
  let secret: Uint8Array;
  let work: string;
  let recipientPem: string;
  const clock = new ManualClock(1_800_000_000_000);

  const auth = async (role: PlatformRole, sub: string, room?: string) => ({
    authorization: `Bearer ${await issueDevToken(secret, { sub, role, ...(room ? { room } : {}) }, { audience: AUDIENCE })}`,
  });

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    seal = sealer(stack);
    secret = randomBytes(32);
    work = await mkdtemp(join(tmpdir(), 'chaperone-lifecycle-routes-'));
    const services = seal.services;
    const deps: RecordsApiDeps & { lifecycle: unknown } = {
      pool: stack.pool,
      store: services.store,
      keyRoot: services.keyRoot,
      signer: services.signer,
      trustedSignerKeys: [await services.signer.publicKeySpki()],
      tokens: createHs256TokenVerifier({ secret, audience: AUDIENCE }),
      playback: new PlaybackTokens({ db: stack.pool, key: randomBytes(32), tokenTtlMs: 120_000 }),
      logger: silentLogger,
      workDir: work,
      frameLengthBytes: 1024 * 1024,
      secureCookies: false,
      lifecycle: { purge: { s3: stack.s3Client(), bucket: stack.bucket, allowUnlistableVersions: true }, clock },
    };
    server = await buildRecordsApi(deps);
    app = httpTestClient(await server.listen({ host: '127.0.0.1', port: 0 }));
    const { stdout } = await run('sh', ['-c', `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${work}/k.pem && openssl pkey -in ${work}/k.pem -pubout`]);
    recipientPem = stdout;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('hold, refused deletion, release, track deletion, listing for an auditor; refusals and bad input have their status and code', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const officer = await auth('records-officer', 'officer-17');
    const base = `/v1/recordings/${id}`;

    let res = await app.inject({ method: 'POST', url: `${base}/legal-hold`, headers: await auth('clinician', 'clinician-51b2e0', 'room-telehealth-42'), payload: { reason: 'litigation hold, matter LIT-1' } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'CHAP_RECORDS_FORBIDDEN' } });
    res = await app.inject({ method: 'POST', url: `${base}/legal-hold`, headers: officer, payload: { reason: 'short' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'CHAP_RECORDS_BAD_INPUT', field: 'reason' } });
    res = await app.inject({ method: 'POST', url: `${base}/legal-hold`, headers: officer, payload: { reason: 'litigation hold, matter LIT-1', extra: 1 } });
    expect(res.statusCode).toBe(400);
    res = await app.inject({ method: 'POST', url: `${base}/legal-hold`, payload: { reason: 'litigation hold, matter LIT-1' } });
    expect(res.statusCode).toBe(401);
    res = await app.inject({ method: 'POST', url: `${base}/legal-hold`, headers: officer, payload: { reason: 'litigation hold, matter LIT-1' } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ hold: { recordingId: id, placedBy: { id: 'officer-17' } } });

    const deletion = { trackId: 't01-video', reasonCode: 'patient-request', reason: 'erasure request ER-5 from the patient' };
    res = await app.inject({ method: 'POST', url: `${base}/deletions`, headers: officer, payload: deletion });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'CHAP_RECORDS_ON_HOLD' } });
    res = await app.inject({ method: 'POST', url: `${base}/legal-hold/release`, headers: officer, payload: { reason: 'matter LIT-1 closed' } });
    expect(res.statusCode).toBe(200);
    res = await app.inject({ method: 'POST', url: `${base}/deletions`, headers: await auth('patient', 'patient-7f3a9c', 'room-telehealth-42'), payload: deletion });
    expect(res.statusCode).toBe(403);
    res = await app.inject({ method: 'POST', url: `${base}/deletions`, headers: officer, payload: deletion });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ deletion: { state: 'completed', trackId: 't01-video' } });
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/t01-video/`)).toEqual([]);

    res = await app.inject({ method: 'GET', url: `${base}/deletions`, headers: await auth('auditor', 'auditor-3') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ deletions: [{ state: 'completed' }], tombstones: [{ trackId: 't01-video', participantId: 'patient-7f3a9c' }] });
    res = await app.inject({ method: 'GET', url: `${base}/legal-holds`, headers: await auth('auditor', 'auditor-3') });
    expect(res.json().holds).toHaveLength(1);
    res = await app.inject({ method: 'GET', url: `${base}/deletions`, headers: await auth('patient', 'patient-7f3a9c', 'room-telehealth-42') });
    expect(res.statusCode).toBe(403);
  });

  test('export: a patient downloads their own tracks as an encrypted tar that openssl opens; the whole recording is refused to them', async () => {
    const { fixture, recording } = await seal.seal();
    const id = recording.recordingId;
    const patient = await auth('patient', 'patient-7f3a9c', 'room-telehealth-42');
    let res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { scope: 'recording', recipientPublicKey: recipientPem } });
    expect(res.statusCode).toBe(403);
    res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { recipientPublicKey: 'nope' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { field: 'recipientPublicKey' } });
    res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { recipientPublicKey: recipientPem } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    const dir = await mkdtemp(join(work, 'dl-'));
    await writeFile(join(dir, 'export.tar'), res.rawPayload);
    await run('cp', [join(work, 'k.pem'), join(dir, 'recipient-key.pem')]);
    await run('sh', [
      '-ec',
      [
        'tar xf export.tar',
        'openssl pkeyutl -decrypt -inkey recipient-key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in key.rsa-oaep -out bundle-key.txt',
        'read KEY IV MAC < bundle-key.txt',
        'openssl enc -d -aes-256-cbc -K "$KEY" -iv "$IV" -in bundle.tar.enc -out bundle.tar',
        'tar xf bundle.tar',
      ].join('\n'),
    ], { cwd: dir });
    expect((await readFile(join(dir, 'chaperone-export', 'tracks', 't01-video-s001.webm'))).equals(fixture.originals.get('t01-video-s01.webm')!)).toBe(true);
  });

  test('one-time download: issued to the caller, redeemed once by them over TLS as the bundle tar; another person, a second use and an expired link are refused', async () => {
    const { fixture, recording } = await seal.seal();
    const id = recording.recordingId;
    const patient = await auth('patient', 'patient-7f3a9c', 'room-telehealth-42');
    let res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { delivery: 'one-time-download', recipientPublicKey: recipientPem } });
    expect(res.statusCode).toBe(400);
    res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { delivery: 'one-time-download' } });
    expect(res.statusCode).toBe(201);
    const { token, downloadId } = res.json() as { token: string; downloadId: string };
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    res = await app.inject({ method: 'POST', url: '/v1/exports/download', headers: { ...(await auth('patient', 'patient-other', 'room-telehealth-42')), 'x-chaperone-download-token': token } });
    expect(res.statusCode).toBe(403);
    res = await app.inject({ method: 'POST', url: '/v1/exports/download', headers: { ...patient, 'x-chaperone-download-token': 'A'.repeat(43) } });
    expect(res.json()).toMatchObject({ error: { code: 'CHAP_RECORDS_DOWNLOAD_INVALID' } });
    res = await app.inject({ method: 'POST', url: '/v1/exports/download', headers: { ...patient, 'x-chaperone-download-token': token } });
    expect(res.statusCode).toBe(200);
    const dir = await mkdtemp(join(work, 'once-'));
    await writeFile(join(dir, 'bundle.tar'), res.rawPayload);
    await run('tar', ['xf', 'bundle.tar'], { cwd: dir });
    expect((await readFile(join(dir, 'chaperone-export', 'tracks', 't01-video-s001.webm'))).equals(fixture.originals.get('t01-video-s01.webm')!)).toBe(true);
    expect((await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(dir, 'chaperone-export') })).stdout.trim()).toBe('tracks/t01-video-s001.webm: OK');
    res = await app.inject({ method: 'POST', url: '/v1/exports/download', headers: { ...patient, 'x-chaperone-download-token': token } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'CHAP_RECORDS_DOWNLOAD_USED' } });

    res = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/exports`, headers: patient, payload: { delivery: 'one-time-download' } });
    const late = (res.json() as { token: string }).token;
    clock.advance(60 * 60_000 + 1);
    res = await app.inject({ method: 'POST', url: '/v1/exports/download', headers: { ...patient, 'x-chaperone-download-token': late } });
    expect(res.statusCode).toBe(410);

    const { rows } = await stack.pool.query("select event, outcome, details from audit_log where event like 'recording.export%' and subject_id = $1 order by seq", [id]);
    expect(rows.map((r: { event: string; outcome: string }) => `${r.event}:${r.outcome}`)).toEqual([
      'recording.export-link-issued:ok',
      'recording.export-link-redeemed:refused',
      'recording.export-link-redeemed:ok',
      'recording.exported:ok',
      'recording.export-link-redeemed:refused',
      'recording.export-link-issued:ok',
      'recording.export-link-redeemed:refused',
    ]);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).toContain(downloadId);
  });
});
