import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import { startJanusServer, type JanusServer } from './janus-server.js';
import { startStaticServer, type StaticServer } from './static-server.js';
import { launchChromium, type LaunchedChromium } from './chromium.js';
import { syntheticMedia, type SyntheticMediaSpec } from './synthetic-media.js';
import { freePort } from './free-port.js';
import { privateNetwork } from './private-network.js';
import { createE2eeVideoRoom } from '../sfu/janus-videoroom.js';
import { startKeyService, type KeyService } from '../keyservice/index.js';
import { createDevTokenAuthority, type DevTokenAuthority } from '../keyservice/index.js';
import { generateLocalExternalSender } from '../keyservice/index.js';

/**
 * The real components of an encrypted call, started locally for the demo and the tests: Janus (E2EE-only
 * room), the key service (MLS delivery service), a static server for the room page, and Chromium per
 * synthetic participant. Everything listens on loopback or the private namespace's veth; `stop()` ends
 * all of it.
 */

export interface CallStack {
  janus: JanusServer;
  keyService: KeyService;
  web: StaticServer;
  tokens: DevTokenAuthority;
  sfuRoom: number;
  roomId: string;
  mediaDir: string;
  stop(): Promise<void>;
}

export async function startCallStack(options: { workDir: string; roomId?: string; sfuRoom?: number }): Promise<CallStack> {
  const network = privateNetwork();
  const { workDir, roomId = 'room-demo', sfuRoom = 1234 } = options;
  await mkdir(workDir, { recursive: true });
  const janus = await startJanusServer({ mediaInterface: network.mediaInterface, mediaAddress: network.mediaAddress, wsPort: await freePort() });
  const stops: Array<() => Promise<void>> = [() => janus.stop()];
  try {
    await createE2eeVideoRoom(janus.wsUrl, sfuRoom, 'chaperone call');
    const tokens = await createDevTokenAuthority();
    const keyService = await startKeyService({ host: '127.0.0.1', port: 0, tokens: tokens.verifier, externalSender: await generateLocalExternalSender() });
    stops.push(() => keyService.close());
    const web = await startStaticServer(resolve('dist/web'));
    stops.push(() => web.close());
    return {
      janus,
      keyService,
      web,
      tokens,
      sfuRoom,
      roomId,
      mediaDir: join(workDir, 'media'),
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

export interface Participant {
  id: string;
  name: string;
  chromium: LaunchedChromium;
  page: Page;
  close(): Promise<void>;
}

export interface ParticipantSpec extends SyntheticMediaSpec {
  id: string;
  name: string;
  role?: 'patient' | 'clinician';
}

/** A synthetic participant: its own Chromium with its own camera and microphone files, joined to the call. */
export async function joinParticipant(stack: CallStack, spec: ParticipantSpec): Promise<Participant> {
  const media = await syntheticMedia(stack.mediaDir, spec);
  const chromium = await launchChromium({ fakeVideoFile: media.videoFile, fakeAudioFile: media.audioFile });
  try {
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    await page.goto(`${stack.web.url}/index.html`);
    const token = await stack.tokens.issue({ sub: spec.id, room: stack.roomId, role: spec.role ?? 'patient' });
    await page.evaluate(
      (config) => window.chaperoneRoom.join(config),
      {
        keyServiceUrl: stack.keyService.wsUrl,
        sfuUrl: stack.janus.wsUrl,
        sfuRoom: stack.sfuRoom,
        token,
        participantId: spec.id,
        displayName: spec.name,
        // The camera captures at the synthetic clip's size when one is given.
        ...(spec.width !== undefined && spec.height !== undefined ? { capture: { width: spec.width, height: spec.height } } : {}),
      },
    );
    return { id: spec.id, name: spec.name, chromium, page, close: () => chromium.close() };
  } catch (error) {
    await chromium.close();
    throw error;
  }
}
