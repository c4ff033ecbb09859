import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readAudit, verifyAuditChain } from '../audit/index.js';
import { createHs256TokenVerifier, issueDevToken, type PlatformRole } from '../keyservice/tokens.js';
import { registerRecording } from '../queue/catalog.js';
import { destroyTrackKey } from '../queue/keys/data-keys.js';
import { silentLogger } from '../queue/logger.js';
import type { SealServices } from '../queue/services.js';
import { containsPlaintextRun, getObjectBytes, listObjectKeys } from '../queue/testing/inspect.js';
import { spoolRecording, testMedia, type SpoolFixture } from '../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../queue/testing/stack.js';
import type { RecordsApiDeps } from './api/context.js';
import { buildRecordsApi } from './api/server.js';
import { listDerivatives } from './derivatives.js';
import { PlaybackTokens } from './playback-tokens.js';
import { httpTestClient, type TestRequest, type TestResponse } from './testing/http-client.js';
import { sealedFixture } from './testing/seal-directly.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const AUDIENCE = 'chaperone-records';
const ROOM = 'room-telehealth-42';
const PATIENT = 'patient-7f3a9c';
const CLINICIAN = 'clinician-51b2e0';

interface Client {
  inject(request: TestRequest): Promise<TestResponse>;
  close(): Promise<void>;
}

/** The API over real HTTP on 127.0.0.1 (fetch), as a player or the CLI reaches it. */
async function listen(built: Awaited<ReturnType<typeof buildRecordsApi>>): Promise<Client> {
  const base = await built.listen({ host: '127.0.0.1', port: 0 });
  return {
    ...httpTestClient(base),
    close: () => built.close(),
  };
}

describe('records access API (real PostgreSQL, s3rver, KMS double)', () => {
  let stack: SealTestStack;
  let services: SealServices;
  let secret: Uint8Array;
  let clock = Date.now();
  let workDir: string;
  let deps: RecordsApiDeps;
  let app: Client;
  let s3: S3Client;
  let sealed: SpoolFixture; // room-telehealth-42: patient video (small VP8), clinician audio
  let other: SpoolFixture; // room-b, other people
  let rid: string;

  const token = (role: PlatformRole, sub: string, room?: string, expiresInSec?: number) =>
    issueDevToken(secret, { sub, role, ...(room ? { room } : {}), ...(expiresInSec ? { expiresInSec } : {}) }, { audience: AUDIENCE });
  const auth = async (role: PlatformRole, sub: string, room?: string) => ({ authorization: `Bearer ${await token(role, sub, room)}` });

  async function build(overrides: Partial<RecordsApiDeps> = {}): Promise<Client> {
    return listen(await buildRecordsApi({ ...deps, ...overrides }));
  }

  /** Token → session → the media response, for `who`. */
  async function play(who: Record<string, string>, path: string, headers: Record<string, string> = {}, target = app) {
    const issued = await target.inject({ method: 'POST', url: path, headers: who });
    expect(issued.statusCode).toBe(201);
    const opened = await target.inject({ method: 'POST', url: '/v1/playback/sessions', headers: who, payload: { token: issued.json().token } });
    expect(opened.statusCode).toBe(201);
    const session = opened.json() as { url: string; secret: string };
    const media = await target.inject({ method: 'GET', url: session.url, headers: { 'x-chaperone-playback-secret': session.secret, ...headers } });
    return { media, session, opened, issued };
  }

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    services = stack.services();
    s3 = stack.s3Client();
    secret = randomBytes(32);
    workDir = await mkdtemp(join(tmpdir(), 'chaperone-records-'));
    deps = {
      pool: stack.pool,
      store: services.store,
      keyRoot: services.keyRoot,
      signer: services.signer,
      trustedSignerKeys: [await services.signer.publicKeySpki()],
      tokens: createHs256TokenVerifier({ secret, audience: AUDIENCE }),
      playback: new PlaybackTokens({ db: stack.pool, key: randomBytes(32), tokenTtlMs: 120_000, now: () => clock }),
      logger: silentLogger,
      workDir,
      frameLengthBytes: 1024 * 1024,
      secureCookies: false,
    };
    app = await build();
    sealed = await sealedFixture(services, stack.spoolDir);
    rid = sealed.request.recordingId;
    other = await sealedFixture(services, stack.spoolDir, {
      edit: (request) => {
        request.roomId = 'room-b';
        request.startedAtMs -= 86_400_000;
        request.endedAtMs -= 86_400_000;
        request.tracks[0]!.participantId = 'patient-other';
        request.tracks[1]!.participantId = 'clinician-other';
      },
    });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await stack?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const ids = (body: { recordings: Array<{ recordingId: string }> }) => body.recordings.map((r) => r.recordingId).sort();

  test('listing is scoped by role: staff see all, a patient their own recordings and tracks, a clinician their care team’s', async () => {
    const all = [rid, other.request.recordingId].sort();
    for (const role of ['records-officer', 'auditor'] as const) {
      const res = await app.inject({ url: '/v1/recordings', headers: await auth(role, `${role}-1`) });
      expect(res.statusCode).toBe(200);
      expect(ids(res.json())).toEqual(expect.arrayContaining(all));
    }
    const patient = await app.inject({ url: '/v1/recordings', headers: await auth('patient', PATIENT, ROOM) });
    expect(ids(patient.json())).toEqual([rid]);
    // Only their own track of it.
    expect(patient.json().recordings[0].tracks.map((t: { participantId: string }) => t.participantId)).toEqual([PATIENT]);
    const clinician = await app.inject({ url: '/v1/recordings', headers: await auth('clinician', CLINICIAN, ROOM) });
    expect(ids(clinician.json())).toEqual([rid]);
    expect(clinician.json().recordings[0].tracks).toHaveLength(2);
    // A patient's token of another room sees nothing of this one.
    const elsewhere = await app.inject({ url: '/v1/recordings', headers: await auth('patient', PATIENT, 'room-b') });
    expect(ids(elsewhere.json())).toEqual([]);

    // A clinician outside the care team sees nothing until a records officer assigns them to the room.
    const outsider = await auth('clinician', 'clinician-assigned', ROOM);
    expect(ids((await app.inject({ url: '/v1/recordings', headers: outsider })).json())).toEqual([]);
    expect((await app.inject({ url: `/v1/recordings/${rid}`, headers: outsider })).json().error).toMatchObject({ code: 'forbidden', reason: 'not-care-team' });
    const byClinician = await app.inject({ method: 'PUT', url: `/v1/rooms/${ROOM}/care-team/clinician-assigned`, headers: await auth('clinician', CLINICIAN, ROOM) });
    expect(byClinician.statusCode).toBe(403);
    const assigned = await app.inject({ method: 'PUT', url: `/v1/rooms/${ROOM}/care-team/clinician-assigned`, headers: await auth('records-officer', 'ro-1') });
    expect(assigned.statusCode).toBe(204);
    expect(ids((await app.inject({ url: '/v1/recordings', headers: outsider })).json())).toEqual([rid]);
    expect((await app.inject({ method: 'DELETE', url: `/v1/rooms/${ROOM}/care-team/clinician-assigned`, headers: await auth('records-officer', 'ro-1') })).statusCode).toBe(204);
    expect(ids((await app.inject({ url: '/v1/recordings', headers: outsider })).json())).toEqual([]);

    // Operators and recorders may not list; no token or a bad one is 401.
    for (const role of ['operator', 'recorder'] as const) {
      const res = await app.inject({ url: '/v1/recordings', headers: await auth(role, `${role}-1`) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'forbidden', reason: 'role-not-permitted' });
    }
    expect((await app.inject({ url: '/v1/recordings' })).json().error.code).toBe('unauthenticated');
    expect((await app.inject({ url: '/v1/recordings', headers: { authorization: 'Bearer x.y.z' } })).statusCode).toBe(401);
    const keyserviceAudience = await issueDevToken(secret, { sub: 'ro-1', role: 'records-officer' });
    expect((await app.inject({ url: '/v1/recordings', headers: { authorization: `Bearer ${keyserviceAudience}` } })).statusCode).toBe(401);

    const events = await readAudit(stack.pool, { limit: 5000 });
    expect(events.some((e) => e.event === 'records.listed' && e.outcome === 'ok' && e.actorId === PATIENT && e.details.results === 1)).toBe(true);
    expect(events.some((e) => e.event === 'records.listed' && e.outcome === 'refused' && e.actorRole === 'operator')).toBe(true);
    expect(events.some((e) => e.event === 'records.viewed' && e.outcome === 'refused' && e.details.reason === 'not-care-team')).toBe(true);
    expect(events.some((e) => e.event === 'records.unauthenticated' && e.outcome === 'refused')).toBe(true);
    expect(events.some((e) => e.event === 'records.care-team-assigned' && e.outcome === 'refused' && e.actorId === CLINICIAN)).toBe(true);
  });

  test('search filters (room, participant, time range, state) and pagination', async () => {
    const officer = await auth('records-officer', 'ro-1');
    const q = async (query: string) => (await app.inject({ url: `/v1/recordings?${query}`, headers: officer })).json();
    expect(ids(await q('room=room-b'))).toEqual([other.request.recordingId]);
    expect(ids(await q(`participant=${PATIENT}`))).toEqual(expect.arrayContaining([rid]));
    expect(ids(await q(`participant=${PATIENT}`))).not.toContain(other.request.recordingId);
    const t0 = sealed.request.startedAtMs;
    expect(ids(await q(`from=${t0 - 1000}&to=${t0 + 1000}&room=${ROOM}`))).toEqual([rid]);
    expect(ids(await q(`from=${new Date(t0 - 2 * 86_400_000).toISOString()}&to=${new Date(t0 - 1000).toISOString()}&room=room-b`))).toEqual([other.request.recordingId]);
    expect(ids(await q(`state=failed&room=${ROOM}`))).toEqual([]);
    const first = await q('limit=1');
    expect(first.recordings).toHaveLength(1);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await q(`limit=1&cursor=${first.nextCursor}`);
    expect(second.recordings[0].recordingId).not.toBe(first.recordings[0].recordingId);
    const bad = await app.inject({ url: '/v1/recordings?colour=red', headers: officer });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid-request', field: 'querystring.colour' });
    expect((await app.inject({ url: '/v1/recordings?cursor=bm9wZQ', headers: officer })).json().error).toMatchObject({ field: 'cursor' });
  });

  test('playback is byte-identical to the spool file, and Range requests return exactly the bytes asked for', async () => {
    const original = sealed.originals.get('t01-video-s01.webm')!;
    const patient = await auth('patient', PATIENT, ROOM);
    const path = `/v1/recordings/${rid}/tracks/t01-video/segments/1/playback-tokens`;
    const { media, session, opened } = await play(patient, path);
    expect(media.statusCode).toBe(200);
    expect(media.headers['content-type']).toBe('video/webm');
    expect(media.headers['accept-ranges']).toBe('bytes');
    expect(Number(media.headers['content-length'])).toBe(original.length);
    expect(sha256(media.rawPayload)).toBe(sha256(original));
    // The session cookie a <video> element would send: HttpOnly, SameSite=Strict, scoped to the session.
    const cookie = String(opened.headers['set-cookie']);
    expect(cookie).toMatch(new RegExp(`^chaperone-playback=${session.secret}; Path=/v1/playback/sessions/[A-Za-z0-9_-]{22}; Max-Age=\\d+; HttpOnly; SameSite=Strict$`));
    // The media URL carries the opaque session id only: no recording, track, user or key.
    expect(session.url).toMatch(/^\/v1\/playback\/sessions\/[A-Za-z0-9_-]{22}\/media$/);
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, original.length - 1],
      ['bytes=-500', original.length - 500, original.length - 1],
      [`bytes=${original.length - 10}-${original.length + 50}`, original.length - 10, original.length - 1],
    ] as const) {
      const part = await app.inject({ url: session.url, headers: { cookie: `chaperone-playback=${session.secret}`, range } });
      expect(part.statusCode).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${original.length}`);
      expect(part.rawPayload.equals(original.subarray(start, end + 1))).toBe(true);
    }
    const past = await app.inject({ url: session.url, headers: { cookie: `chaperone-playback=${session.secret}`, range: `bytes=${original.length}-` } });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${original.length}`);
    // A clinician of the care team plays the audio track, also byte-identical.
    const audio = await play(await auth('clinician', CLINICIAN, ROOM), `/v1/recordings/${rid}/tracks/t02-audio/segments/1/playback-tokens`);
    expect(audio.media.headers['content-type']).toBe('audio/webm');
    expect(audio.media.rawPayload.equals(sealed.originals.get('t02-audio-s01.webm')!)).toBe(true);
    const events = await readAudit(stack.pool, { limit: 5000 });
    expect(events.filter((e) => e.event === 'records.played' && e.outcome === 'ok' && e.actorId === PATIENT && e.subjectId === rid).length).toBeGreaterThanOrEqual(5);
    expect(events.some((e) => e.event === 'records.playback-session-opened' && e.actorId === PATIENT)).toBe(true);
  });

  test('who may play what: refusals are 403 with the policy’s reason, and audited', async () => {
    const video = `/v1/recordings/${rid}/tracks/t01-video/segments/1/playback-tokens`;
    const audio = `/v1/recordings/${rid}/tracks/t02-audio/segments/1/playback-tokens`;
    const cases: Array<[Record<string, string>, string, string]> = [
      [await auth('patient', PATIENT, ROOM), audio, 'own-tracks-only'],
      [await auth('patient', 'patient-other', 'room-b'), video, 'wrong-room'],
      [await auth('patient', 'patient-stranger', ROOM), video, 'not-participant'],
      [await auth('clinician', 'clinician-stranger', ROOM), video, 'not-care-team'],
      [await auth('auditor', 'au-1'), video, 'role-not-permitted'],
      [await auth('operator', 'op-1'), video, 'role-not-permitted'],
      [await auth('recorder', 'rec-1'), video, 'role-not-permitted'],
    ];
    for (const [who, path, reason] of cases) {
      const res = await app.inject({ method: 'POST', url: path, headers: who });
      expect([res.statusCode, res.json().error.reason]).toEqual([403, reason]);
    }
    expect((await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/tracks/t09-video/segments/1/playback-tokens`, headers: await auth('records-officer', 'ro-1') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/tracks/t01-video/segments/7/playback-tokens`, headers: await auth('records-officer', 'ro-1') })).statusCode).toBe(404);
    const refused = (await readAudit(stack.pool, { limit: 5000 })).filter((e) => e.event === 'records.playback-token-issued' && e.outcome === 'refused');
    for (const [, , reason] of cases) expect(refused.some((e) => e.details.reason === reason)).toBe(true);
  });

  test('42 CFR Part 2: the care team neither lists nor plays the recording; the patient plays their own track, records officers everything', async () => {
    const part2 = await sealedFixture(services, stack.spoolDir, { edit: (request) => void (request.policy = { ...request.policy, part2: true }) });
    const id = part2.request.recordingId;
    const clinician = await auth('clinician', CLINICIAN, ROOM);
    expect(ids((await app.inject({ url: '/v1/recordings', headers: clinician })).json())).not.toContain(id);
    expect((await app.inject({ url: `/v1/recordings/${id}`, headers: clinician })).json().error).toMatchObject({ code: 'forbidden', reason: 'part2-restricted' });
    const token = (path: string, who: Record<string, string>) => app.inject({ method: 'POST', url: path, headers: who });
    const video = `/v1/recordings/${id}/tracks/t01-video/segments/1/playback-tokens`;
    expect((await token(video, clinician)).json().error.reason).toBe('part2-restricted');
    expect((await token(video, await auth('patient', PATIENT, ROOM))).statusCode).toBe(201);
    expect((await token(video, await auth('records-officer', 'ro-1'))).statusCode).toBe(201);
    expect(ids((await app.inject({ url: '/v1/recordings', headers: await auth('patient', PATIENT, ROOM) })).json())).toContain(id);
  });

  test('expired, altered, replayed and borrowed tokens are refused, and a session needs its secret', async () => {
    const patient = await auth('patient', PATIENT, ROOM);
    const path = `/v1/recordings/${rid}/tracks/t01-video/segments/1/playback-tokens`;
    const issue = async () => (await app.inject({ method: 'POST', url: path, headers: patient })).json().token as string;
    const redeem = (tokenText: string, who = patient) => app.inject({ method: 'POST', url: '/v1/playback/sessions', headers: who, payload: { token: tokenText } });

    const expiring = await issue();
    clock += 120_001;
    try {
      expect((await redeem(expiring)).json().error.code).toBe('token-expired');
    } finally {
      clock -= 120_001;
    }
    const good = await issue();
    const altered = `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`;
    expect((await redeem(altered)).json().error.code).toBe('token-invalid');
    // The last base64url character of the 32-byte MAC carries two unused bits: flipping one leaves the
    // decoded bytes as they were, and the token must still be refused.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const unusedBitFlipped = `${good.slice(0, -1)}${alphabet[alphabet.indexOf(good.at(-1)!) ^ 1]}`;
    expect(Buffer.from(unusedBitFlipped.split('.')[2]!, 'base64url')).toEqual(Buffer.from(good.split('.')[2]!, 'base64url'));
    expect((await redeem(unusedBitFlipped)).json().error.code).toBe('token-invalid');
    const otherJti = `cpt1.${randomBytes(16).toString('base64url')}.${good.split('.')[2]}`;
    expect((await redeem(otherJti)).json().error.code).toBe('token-invalid');
    expect((await redeem('not-a-token')).json().error.code).toBe('token-invalid');
    // Issued to the patient, presented by a care-team clinician: bound to the user.
    expect((await redeem(good, await auth('clinician', CLINICIAN, ROOM))).json().error.code).toBe('token-wrong-user');
    const first = await redeem(good);
    expect(first.statusCode).toBe(201);
    const replay = await redeem(good);
    expect([replay.statusCode, replay.json().error.code]).toEqual([409, 'token-replayed']);
    // The media URL alone (no cookie, no secret), or a wrong secret, plays nothing.
    const { url } = first.json() as { url: string };
    expect((await app.inject({ url })).json().error.code).toBe('session-invalid');
    expect((await app.inject({ url, headers: { 'x-chaperone-playback-secret': randomBytes(32).toString('base64url') } })).json().error.code).toBe('session-invalid');
    // Sessions expire too.
    clock += deps.playback.sessionTtlMs + 1;
    try {
      expect((await app.inject({ url, headers: { 'x-chaperone-playback-secret': first.json().secret } })).json().error.code).toBe('session-invalid');
    } finally {
      clock -= deps.playback.sessionTtlMs + 1;
    }
    // Housekeeping removes rows whose token and session both ended more than a day ago.
    clock += 2 * 86_400_000;
    try {
      expect(await deps.playback.purgeExpired()).toBeGreaterThan(0);
      expect((await redeem(good)).json().error.code).toBe('token-invalid');
    } finally {
      clock -= 2 * 86_400_000;
    }
    const events = await readAudit(stack.pool, { limit: 5000 });
    for (const reason of ['token-expired', 'token-invalid', 'token-replayed', 'token-wrong-user']) {
      expect(events.some((e) => e.event === 'records.playback-session-opened' && e.outcome === 'refused' && e.details.reason === reason)).toBe(true);
    }
    expect(events.some((e) => e.event === 'records.played' && e.outcome === 'refused' && e.details.reason === 'session-invalid')).toBe(true);
  });

  test('an altered stored object refuses to play and raises an audit event', async () => {
    const fixture = await sealedFixture(services, stack.spoolDir, { videoSegments: 'big' });
    const id = fixture.request.recordingId;
    const officer = await auth('records-officer', 'ro-1');
    const audioKey = `recordings/${id}/t02-audio/001.esdk`;
    const stored = await getObjectBytes(s3, stack.bucket, audioKey);
    const flipped = Buffer.from(stored);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: audioKey, Body: flipped }));
    // Small object: fully checked before the first byte, so the refusal is a clean status.
    const { media } = await play(officer, `/v1/recordings/${id}/tracks/t02-audio/segments/1/playback-tokens`);
    expect(media.statusCode).toBe(502);
    expect(media.json().error).toMatchObject({ code: 'integrity-failed', reason: 'frame-authentication' });
    // Swapped for another object of the same size under the same key: refused too.
    const videoKey = `recordings/${id}/t01-video/001.esdk`;
    const videoStored = await getObjectBytes(s3, stack.bucket, videoKey);
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: audioKey, Body: videoStored.subarray(0, stored.length) }));
    const swapped = (await play(officer, `/v1/recordings/${id}/tracks/t02-audio/segments/1/playback-tokens`)).media;
    expect([swapped.statusCode, swapped.json().error.reason]).toEqual([502, 'header-key']);

    // Large object streamed with a small hold-back: the stream starts, then is cut at the bad frame and the
    // end of the file is never released.
    const streaming = await build({ holdBackBytes: 64 * 1024 });
    try {
      const tampered = Buffer.from(videoStored);
      tampered[tampered.length - 2000]! ^= 0x01; // inside the last frame
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: videoKey, Body: tampered }));
      const original = fixture.originals.get('t01-video-s01.webm')!;
      let received: Buffer | undefined;
      try {
        const result = await play(officer, `/v1/recordings/${id}/tracks/t01-video/segments/1/playback-tokens`, {}, streaming);
        received = result.media.rawPayload;
      } catch {
        received = undefined; // the connection was cut
      }
      if (received) {
        expect(received.length).toBeLessThan(original.length);
        expect(received.length).toBeLessThanOrEqual(original.length - 64 * 1024);
      }
    } finally {
      await streaming.close();
    }
    const all = await readAudit(stack.pool, { limit: 5000 });
    // The streamed attempt had started (bytes went out) and stopped short of the held-back tail.
    const cut = all.find((e) => e.event === 'records.played' && e.subjectId === id && e.details.trackId === 't01-video');
    expect(cut).toMatchObject({ outcome: 'failed', details: { problem: 'frame-authentication' } });
    expect(cut!.details.bytes).toBeGreaterThan(0);
    expect(cut!.details.bytes).toBeLessThanOrEqual(fixture.originals.get('t01-video-s01.webm')!.length - 64 * 1024);
    const events = all.filter((e) => e.event === 'records.integrity-failed' && e.subjectId === id);
    expect(events.map((e) => e.details.trackId)).toEqual(['t02-audio', 't02-audio', 't01-video']);
    expect(events.every((e) => e.outcome === 'failed' && e.actorId === 'ro-1')).toBe(true);
  });

  test('not sealed is 409, a deleted track is 410 and listed as not playable; other tracks still play', async () => {
    const officer = await auth('records-officer', 'ro-1');
    const unsealed = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    await registerRecording(stack.pool, unsealed.request);
    const pending = await app.inject({ method: 'POST', url: `/v1/recordings/${unsealed.request.recordingId}/tracks/t01-video/segments/1/playback-tokens`, headers: officer });
    expect([pending.statusCode, pending.json().error.code]).toEqual([409, 'not-playable']);

    const fixture = await sealedFixture(services, stack.spoolDir);
    const id = fixture.request.recordingId;
    await destroyTrackKey(stack.pool, id, 't01-video', { role: 'records-officer', id: 'ro-1' });
    const gone = await app.inject({ method: 'POST', url: `/v1/recordings/${id}/tracks/t01-video/segments/1/playback-tokens`, headers: officer });
    expect([gone.statusCode, gone.json().error.code]).toEqual([410, 'gone']);
    const listed = (await app.inject({ url: `/v1/recordings/${id}`, headers: officer })).json();
    expect(listed.tracks.map((t: { trackId: string; playable: boolean }) => [t.trackId, t.playable])).toEqual([
      ['t01-video', false],
      ['t02-audio', true],
    ]);
    const audio = await play(officer, `/v1/recordings/${id}/tracks/t02-audio/segments/1/playback-tokens`);
    expect(audio.media.rawPayload.equals(fixture.originals.get('t02-audio-s01.webm')!)).toBe(true);

    // A deletion of the whole recording, merely requested (keys not yet destroyed): nothing plays any more,
    // not even a session opened before it.
    const early = await sealedFixture(services, stack.spoolDir);
    const issued = await app.inject({ method: 'POST', url: `/v1/recordings/${early.request.recordingId}/tracks/t02-audio/segments/1/playback-tokens`, headers: officer });
    const opened = (await app.inject({ method: 'POST', url: '/v1/playback/sessions', headers: officer, payload: { token: issued.json().token } })).json() as { url: string; secret: string };
    await stack.pool.query(
      `insert into recording_deletions (deletion_id, recording_id, scope, reason_code, reason, requested_by_role, requested_by_id, requested_at_ms)
       values ($1, $2, 'recording', 'records-request', 'test: request recorded, keys not yet destroyed', 'records-officer', 'ro-1', $3)`,
      [`del-${randomUUID()}`, early.request.recordingId, Date.now()],
    );
    const stopped = await app.inject({ url: opened.url, headers: { 'x-chaperone-playback-secret': opened.secret } });
    expect([stopped.statusCode, stopped.json().error.code]).toEqual([410, 'gone']);
    const shown = (await app.inject({ url: `/v1/recordings/${early.request.recordingId}`, headers: officer })).json();
    expect(shown).toMatchObject({ playable: false, deleted: true });
  });

  test('a composited derivative is rendered, encrypted under a key of its own, catalogued and playable', async () => {
    const clinician = await auth('clinician', CLINICIAN, ROOM);
    for (const [who, reason] of [
      [await auth('patient', PATIENT, ROOM), 'role-not-permitted'],
      [await auth('auditor', 'au-1'), 'role-not-permitted'],
      [await auth('clinician', 'clinician-stranger', ROOM), 'not-care-team'],
    ] as const) {
      const refused = await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/derivatives`, headers: who, payload: { kind: 'gallery' } });
      expect([refused.statusCode, refused.json().error.reason]).toEqual([403, reason]);
    }
    expect((await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/derivatives`, headers: clinician, payload: { kind: 'mosaic' } })).json().error).toMatchObject({ code: 'invalid-request', field: 'kind' });
    const created = await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/derivatives`, headers: clinician, payload: { kind: 'gallery' } });
    expect(created.statusCode).toBe(201);
    const derivative = created.json() as { derivativeId: string; objectKey: string; state: string; sources: Array<{ trackId: string }>; keyRef: string };
    expect(derivative).toMatchObject({ state: 'ready', objectKey: `recordings/${rid}/derivatives/${derivative.derivativeId}.esdk` });
    expect(derivative.sources.map((s) => s.trackId)).toEqual(['t01-video', 't02-audio']);
    // Catalogued as a derivative of its sources, under its own (derivative-scope) key, found by listDerivatives.
    const listed = await listDerivatives(stack.pool, rid);
    expect(listed.map((d) => [d.derivativeId, d.state])).toEqual([[derivative.derivativeId, 'ready']]);
    const { rows } = await stack.pool.query(`select scope from recording_keys where key_ref = $1`, [derivative.keyRef]);
    expect(rows[0].scope).toBe('derivative');
    expect(await listObjectKeys(s3, stack.bucket, `recordings/${rid}/derivatives/`)).toEqual([derivative.objectKey]);

    const { media } = await play(clinician, `/v1/recordings/${rid}/derivatives/${derivative.derivativeId}/playback-tokens`);
    expect(media.statusCode).toBe(200);
    expect(media.headers['content-type']).toBe('video/webm');
    // The stored object is ciphertext: no run of the rendered file appears in it.
    const stored = await getObjectBytes(s3, stack.bucket, derivative.objectKey);
    expect(containsPlaintextRun(stored, media.rawPayload)).toBe(false);
    const file = join(workDir, 'derivative.webm');
    await writeFile(file, media.rawPayload);
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file])).stdout) as { streams: Array<{ codec_name: string; width?: number; height?: number }> };
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(probe.streams.find((s) => s.codec_name === 'vp8')).toMatchObject({ width: 320, height: 240 });
    // A patient may not play the composite (it holds other people's media); the listing shows it to the care team.
    expect((await app.inject({ method: 'POST', url: `/v1/recordings/${rid}/derivatives/${derivative.derivativeId}/playback-tokens`, headers: await auth('patient', PATIENT, ROOM) })).json().error.reason).toBe('own-tracks-only');
    expect((await app.inject({ url: `/v1/recordings/${rid}`, headers: clinician })).json().derivatives).toEqual([{ derivativeId: derivative.derivativeId, kind: 'gallery', state: 'ready', playable: true }]);
    expect((await readAudit(stack.pool, { limit: 5000 })).some((e) => e.event === 'records.derivative-created' && e.outcome === 'ok' && e.actorId === CLINICIAN)).toBe(true);
  });

  test('auditors and records officers read a recording’s audit trail; others may not; the read is audited', async () => {
    const trail = await app.inject({ url: `/v1/recordings/${rid}/audit`, headers: await auth('auditor', 'au-1') });
    expect(trail.statusCode).toBe(200);
    const events = (trail.json() as { events: Array<{ event: string; actor: { id: string } | null; rowHash: string }> }).events.map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['recording.handed-over', 'recording.sealed', 'records.playback-token-issued', 'records.played', 'records.derivative-created']));
    const page = (await app.inject({ url: `/v1/recordings/${rid}/audit?limit=2`, headers: await auth('records-officer', 'ro-1') })).json() as { events: unknown[]; nextAfterSeq: string };
    expect(page.events).toHaveLength(2);
    const next = (await app.inject({ url: `/v1/recordings/${rid}/audit?limit=2&afterSeq=${page.nextAfterSeq}`, headers: await auth('records-officer', 'ro-1') })).json() as { events: Array<{ seq: string }> };
    expect(BigInt(next.events[0]!.seq)).toBeGreaterThan(BigInt(page.nextAfterSeq));
    for (const [who, reason] of [
      [await auth('clinician', CLINICIAN, ROOM), 'role-not-permitted'],
      [await auth('patient', PATIENT, ROOM), 'role-not-permitted'],
    ] as const) {
      const refused = await app.inject({ url: `/v1/recordings/${rid}/audit`, headers: who });
      expect([refused.statusCode, refused.json().error.reason]).toEqual([403, reason]);
    }
    const after = await readAudit(stack.pool, { limit: 5000 });
    expect(after.some((e) => e.event === 'records.audit-read' && e.outcome === 'ok' && e.actorId === 'au-1')).toBe(true);
    expect(after.some((e) => e.event === 'records.audit-read' && e.outcome === 'refused' && e.actorId === PATIENT)).toBe(true);
  });

  test('the audit chain stays intact through all of it', async () => {
    const report = await verifyAuditChain(stack.pool);
    expect(report.ok).toBe(true);
  });
});
