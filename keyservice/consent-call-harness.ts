import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import type { Registry } from 'prom-client';
import type { CallStack, Participant, ParticipantSpec } from '../devstack/call-stack.js';
import { joinParticipant } from '../devstack/call-stack.js';
import { launchChromium, type LaunchedChromium } from '../devstack/chromium.js';
import { freePort } from '../devstack/free-port.js';
import { startJanusServer, type JanusServer } from '../devstack/janus-server.js';
import { privateNetwork } from '../devstack/private-network.js';
import { startStaticServer, type StaticServer } from '../devstack/static-server.js';
import type { CallStats } from '../room/call-session.js';
import type { ConsentPageApi } from '../room/consent-page-api.js';
import { createE2eeVideoRoom } from '../sfu/janus-videoroom.js';
import { generateLocalExternalSender } from './external-sender.js';
import { startKeyService, type KeyService } from './key-service.js';
import { MemoryRecorderDispatcher } from './recorder-dispatcher.js';
import { RECORDER_CREDENTIAL_PATH, type RecordJobData } from './recorder-jobs.js';
import { JanusSfuModeration } from './sfu-moderation.js';
import { startTestDatabase, type TestDatabase } from './test-support.js';
import { createDevTokenAuthority, type DevTokenAuthority } from './tokens.js';

/**
 * A real consent-gated call for the end-to-end test and the benchmark (not a test itself): PostgreSQL,
 * Janus (E2EE-only room), the key service with the recording gate, the bundled room page, one Chromium
 * per participant, and a recorder stand-in — the room page in recorder mode, in its own Chromium, which
 * obtains its credential from the key service exactly as the recorder does (recorder-jobs.ts), joins the
 * MLS group and the SFU, and decrypts every frame it can in its media worker (it writes no files; what
 * it decrypts is what a recorder could capture). Dispatch is in memory: the stand-in acts on it.
 */

const trace = (level: string) => (context: Record<string, unknown>, message: string) => {
  process.stderr.write(`keyservice ${new Date().toISOString()} ${level} ${message} ${JSON.stringify(context)}\n`);
};
const traceLogger = { info: trace('info'), warn: trace('warn'), error: trace('error') };

export interface ConsentCallStack {
  db: TestDatabase;
  janus: JanusServer;
  keyService: KeyService;
  web: StaticServer;
  tokens: DevTokenAuthority;
  dispatcher: MemoryRecorderDispatcher;
  roomId: string;
  sfuRoom: number;
  /** The shape devstack's joinParticipant takes. */
  callStack: CallStack;
  /** The same stack seen from another of its rooms (extraRooms); stopping it stops the whole stack. */
  room(roomId: string): ConsentCallStack;
  stop(): Promise<void>;
}

/** One more room of a stack: its key-service room id and its SFU room. */
export interface ConsentRoom {
  roomId: string;
  sfuRoom: number;
}

/**
 * Starts the stack with `roomId` as its room, and also `extraRooms` (several calls recorded at once by
 * one recorder process: one key service, one Janus and one database serve every room, as in production).
 * `stack.room(id)` is the same stack seen from another of its rooms, for the helpers below.
 */
export async function startConsentCallStack(options: { workDir: string; roomId: string; sfuRoom: number; extraRooms?: ConsentRoom[]; tokenSecret?: Uint8Array; metrics?: Registry }): Promise<ConsentCallStack> {
  const network = privateNetwork();
  await mkdir(options.workDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  try {
    const [db, janus] = await Promise.all([
      startTestDatabase(),
      startJanusServer({ mediaInterface: network.mediaInterface, mediaAddress: network.mediaAddress, wsPort: await freePort() }),
    ]);
    stops.push(() => db.stop(), () => janus.stop());
    const sfuRooms = new Map<string, number>([[options.roomId, options.sfuRoom], ...(options.extraRooms ?? []).map((r): [string, number] => [r.roomId, r.sfuRoom])]);
    if (new Set(sfuRooms.values()).size !== sfuRooms.size || sfuRooms.size !== 1 + (options.extraRooms?.length ?? 0)) {
      throw new RangeError('extraRooms: every room needs its own roomId and sfuRoom');
    }
    for (const sfuRoom of sfuRooms.values()) await createE2eeVideoRoom(janus.wsUrl, sfuRoom, 'chaperone consent call');
    const tokens = await createDevTokenAuthority(options.tokenSecret ? { secret: options.tokenSecret } : {});
    const dispatcher = new MemoryRecorderDispatcher();
    const keyService = await startKeyService({
      // CONSENT_TRACE=1 prints the key service's log lines (identifiers only) with timestamps.
      ...(process.env.CONSENT_TRACE === '1' ? { logger: traceLogger } : {}),
      // The key service's metrics (consent-to-join latency) land in this registry.
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      host: '127.0.0.1',
      port: 0,
      tokens: tokens.verifier,
      externalSender: await generateLocalExternalSender(),
      recording: {
        pool: db.pool,
        dispatcher,
        sfuRoomFor: (roomId) => sfuRooms.get(roomId),
        sfu: new JanusSfuModeration({ url: janus.wsUrl, roomFor: (roomId) => sfuRooms.get(roomId) }),
      },
    });
    stops.push(() => keyService.close());
    const web = await startStaticServer(resolve('dist/web'));
    stops.push(() => web.close());
    const stopAll = async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    };
    const view = (roomId: string): ConsentCallStack => {
      const sfuRoom = sfuRooms.get(roomId);
      if (sfuRoom === undefined) throw new RangeError(`room ${roomId} is not one of this stack's rooms`);
      const callStack: CallStack = { janus, keyService, web, tokens, sfuRoom, roomId, mediaDir: join(options.workDir, 'media'), stop: stopAll };
      return { db, janus, keyService, web, tokens, dispatcher, roomId, sfuRoom, callStack, room: view, stop: stopAll };
    };
    return view(options.roomId);
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

export async function setRecordingPolicy(stack: ConsentCallStack, body: Record<string, unknown>): Promise<{ version: number }> {
  const token = await stack.tokens.issue({ sub: 'op-1', role: 'operator' });
  const response = await fetch(`${stack.keyService.url}/v1/rooms/${stack.roomId}/policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { policy: { version: number } };
  if (response.status !== 201) throw new Error(`policy refused: ${response.status} ${JSON.stringify(json)}`);
  return json.policy;
}

export function joinConsentParticipant(stack: ConsentCallStack, spec: ParticipantSpec): Promise<Participant> {
  return joinParticipant(stack.callStack, spec);
}

/** Consent as the person would by pressing the button (the page API calls the same function). */
export async function decide(participant: { page: Page }, choice: 'grant' | 'decline' | 'revoke'): Promise<void> {
  await participant.page.evaluate((c) => window.chaperoneConsent.decide(c), choice);
}

export async function consentState(participant: { page: Page }): Promise<ReturnType<ConsentPageApi['state']>> {
  return participant.page.evaluate(() => window.chaperoneConsent.state());
}

export function nextDispatch(stack: ConsentCallStack): Promise<RecordJobData> {
  return new Promise((resolvePromise) => {
    const off = stack.dispatcher.on((event) => {
      if (event.kind === 'dispatch' && event.job.roomId === stack.roomId) {
        off();
        resolvePromise(event.job);
      }
    });
  });
}

export interface RecorderStandInPage {
  recorderId: string;
  chromium: LaunchedChromium;
  page: Page;
  stats(): Promise<CallStats>;
  firstDecryptedAtMs(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Launches the recorder stand-in's browser ahead of time (a recorder process keeps one running). */
export async function launchRecorderBrowser(stack: ConsentCallStack): Promise<{ chromium: LaunchedChromium; page: Page }> {
  const chromium = await launchChromium();
  const page = await chromium.browser.newPage();
  await page.goto(`${stack.web.url}/index.html`);
  return { chromium, page };
}

/**
 * Does for `job` what the recorder does: keys in the page, credential over HTTP with the recorder
 * service token, then join (MLS and SFU). Resolves once it is in the MLS group.
 */
export async function admitRecorderPage(
  stack: ConsentCallStack,
  job: RecordJobData,
  browser: { chromium: LaunchedChromium; page: Page },
  recorderId = 'recorder-svc',
): Promise<RecorderStandInPage> {
  const { page, chromium } = browser;
  const publicKey = await page.evaluate(() => window.chaperoneConsent.prepareRecorderKeys());
  const token = await stack.tokens.issue({ sub: recorderId, role: 'recorder' });
  const response = await fetch(`${job.keyServiceUrl}${RECORDER_CREDENTIAL_PATH(job.roomId)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: job.jobId, signaturePublicKey: publicKey }),
  });
  const issued = (await response.json()) as { credential: string; deliveryUrl: string; name: string };
  if (response.status !== 201) throw new Error(`credential refused: ${response.status} ${JSON.stringify(issued)}`);
  await page.evaluate(
    (config) => window.chaperoneRoom.join(config),
    {
      keyServiceUrl: issued.deliveryUrl,
      sfuUrl: stack.janus.wsUrl,
      sfuRoom: job.sfuRoom,
      token,
      participantId: recorderId,
      displayName: issued.name,
      recorderCredential: issued.credential,
    },
  );
  return {
    recorderId,
    chromium,
    page,
    async stats() {
      const value = await page.evaluate(() => window.chaperoneRoom.stats());
      if (!value) throw new Error('the recorder stand-in is not in a call');
      return value;
    },
    firstDecryptedAtMs: () => page.evaluate(() => window.chaperoneConsent.frameTimes().firstDecryptedAtMs),
    close: () => chromium.close(),
  };
}

/** Whether the page shows the recorder in its roster and the indicator on. */
export async function pageShowsRecorder(participant: { page: Page }): Promise<{ listed: boolean; indicator: boolean; purpose: string | undefined; label: string | undefined }> {
  return participant.page.evaluate(() => {
    const item = document.querySelector<HTMLElement>('#roster li[data-kind="recorder"]');
    return {
      listed: item !== null,
      indicator: document.getElementById('recording-indicator')?.getAttribute('data-recording') === 'true',
      purpose: item?.dataset.purpose,
      label: item?.querySelector('.kind')?.textContent ?? undefined,
    };
  });
}
