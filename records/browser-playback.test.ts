import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { readAudit } from '../audit/index.js';
import { launchChromium, type LaunchedChromium } from '../devstack/chromium.js';
import { createHs256TokenVerifier, issueDevToken } from '../keyservice/tokens.js';
import { silentLogger } from '../queue/logger.js';
import { testMedia, type SpoolFixture } from '../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../queue/testing/stack.js';
import { buildRecordsApi } from './api/server.js';
import { PlaybackTokens } from './playback-tokens.js';
import { sealedFixture } from './testing/seal-directly.js';

jest.setTimeout(120_000);

/**
 * What a browser's <video> element does with the playback design: the page (same origin as the API)
 * obtains a token and redeems it with fetch — the session secret arrives as an HttpOnly cookie the page's
 * script cannot read — then sets `video.src` to the session URL, which carries no secret. The element
 * loads, decodes and seeks with plain GETs and Range requests that carry only the cookie.
 */
describe('playback in Chromium’s <video> element', () => {
  let stack: SealTestStack;
  let chromium: LaunchedChromium;
  let app: FastifyInstance;
  let base: string;
  let fixture: SpoolFixture;
  let workDir: string;
  const secret = randomBytes(32);

  beforeAll(async () => {
    [stack, chromium] = await Promise.all([startSealTestStack(), launchChromium(), testMedia()]).then(([s, c]) => [s, c] as const);
    const services = stack.services();
    workDir = await mkdtemp(join(tmpdir(), 'chaperone-records-browser-'));
    fixture = await sealedFixture(services, stack.spoolDir, { videoSegments: 'big' });
    app = await buildRecordsApi({
      pool: stack.pool,
      store: services.store,
      keyRoot: services.keyRoot,
      signer: services.signer,
      trustedSignerKeys: [await services.signer.publicKeySpki()],
      tokens: createHs256TokenVerifier({ secret, audience: 'chaperone-records' }),
      playback: new PlaybackTokens({ db: stack.pool, key: randomBytes(32) }),
      logger: silentLogger,
      workDir,
      frameLengthBytes: 1024 * 1024,
      secureCookies: false, // plain http on 127.0.0.1 in the test
    });
    // The viewer page, served from the API's origin (the cookie is SameSite=Strict).
    app.get('/viewer', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>viewer</title><body></body>'));
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await app?.close();
    await stack?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('a patient’s page plays and seeks their track with the session cookie alone', async () => {
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${base}/viewer`);
      const bearer = `Bearer ${await issueDevToken(secret, { sub: 'patient-7f3a9c', role: 'patient', room: 'room-telehealth-42' }, { audience: 'chaperone-records' })}`;
      const result = await page.evaluate(
        async (recordingId: string, authorization: string) => {
          const issued = await fetch(`/v1/recordings/${recordingId}/tracks/t01-video/segments/1/playback-tokens`, { method: 'POST', headers: { authorization } });
          const { token } = (await issued.json()) as { token: string };
          const opened = await fetch('/v1/playback/sessions', { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
          const session = (await opened.json()) as { url: string };
          const video = document.createElement('video');
          video.muted = true;
          video.preload = 'auto';
          document.body.append(video);
          const once = (name: string) =>
            new Promise<void>((resolve, reject) => {
              video.addEventListener(name, () => resolve(), { once: true });
              video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}`)), { once: true });
            });
          const loaded = once('loadeddata');
          video.src = session.url;
          await loaded;
          const seeked = once('seeked');
          video.currentTime = 2.5;
          await seeked;
          const withoutCookie = await fetch(session.url, { credentials: 'omit' });
          return {
            url: session.url,
            width: video.videoWidth,
            height: video.videoHeight,
            duration: video.duration,
            currentTime: video.currentTime,
            cookieVisibleToScript: document.cookie.includes('chaperone-playback'),
            withoutCookie: withoutCookie.status,
          };
        },
        fixture.request.recordingId,
        bearer,
      );
      expect(result.url).toMatch(/^\/v1\/playback\/sessions\/[A-Za-z0-9_-]{22}\/media$/);
      expect(result).toMatchObject({ width: 640, height: 360, cookieVisibleToScript: false, withoutCookie: 401 });
      expect(result.duration).toBeGreaterThan(3.5);
      expect(result.currentTime).toBeGreaterThan(2);
      const sessionId = result.url.split('/')[4];
      const played = (await readAudit(stack.pool, { limit: 5000 })).filter((e) => e.event === 'records.played' && e.details.sessionId === sessionId && e.outcome !== 'refused');
      expect(played.length).toBeGreaterThanOrEqual(1);
      expect(played.every((e) => e.actorId === 'patient-7f3a9c')).toBe(true);
    } finally {
      await page.close();
    }
  });
});
