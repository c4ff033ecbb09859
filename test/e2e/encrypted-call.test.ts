import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startCallStack, joinParticipant, type CallStack, type Participant } from '../../devstack/call-stack.js';
import { launchChromium, type LaunchedChromium } from '../../devstack/chromium.js';
import { waitFor } from '../../devstack/wait-for.js';
import type { CallStats } from '../../room/call-session.js';
import type { Page } from 'puppeteer-core';

/**
 * A real end-to-end-encrypted call: two synthetic participants in Debian's Chromium, through Janus with an
 * E2EE-only room, keyed by MLS through the key service — all inside the private network namespace.
 */

const ARTIFACTS = join(process.cwd(), 'artifacts');

async function stats(participant: Participant): Promise<CallStats> {
  const value = await participant.page.evaluate(() => window.chaperoneRoom.stats());
  if (!value) throw new Error(`${participant.name} is not in a call`);
  return value;
}

function receive(stats: CallStats, kind: 'audio' | 'video') {
  return stats.streams.filter((s) => s.side === 'receive' && s.kind === kind);
}

function framesDecoded(stats: CallStats): number {
  return stats.rtp.filter((r) => r.type === 'inbound-rtp' && r.kind === 'video').reduce((sum, r) => sum + Number(r.framesDecoded ?? 0), 0);
}

describe('an end-to-end-encrypted call through Janus', () => {
  let stack: CallStack;
  let alice: Participant;
  let bob: Participant;
  let outsiderBrowser: LaunchedChromium;
  let outsider: Page;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    stack = await startCallStack({ workDir: join(process.cwd(), '.tmp', 'e2e-call'), roomId: 'room-e2e', sfuRoom: 5001 });
    alice = await joinParticipant(stack, { id: 'p-alice', name: 'Alice (patient)', colorHex: '0xC02020', toneHz: 440, role: 'patient' });
    bob = await joinParticipant(stack, { id: 'c-bob', name: 'Dr. Bob (clinician)', colorHex: '0x2040C0', toneHz: 660, role: 'clinician' });
    outsiderBrowser = await launchChromium();
    outsider = await outsiderBrowser.browser.newPage();
    await outsider.goto(`${stack.web.url}/test/outsider.html`);
    await outsider.evaluate((url, room) => window.outsider.join(url, room), stack.janus.wsUrl, stack.sfuRoom);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close(), outsiderBrowser?.close()]);
    await stack?.stop();
  });

  test('each participant decrypts and decodes the other', async () => {
    for (const [me, other] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      const s = await waitFor(
        `${me.name} to decrypt and decode ${other.name}`,
        async () => {
          const current = await stats(me);
          const video = receive(current, 'video');
          const audio = receive(current, 'audio');
          const ok = video.some((v) => v.framesOk > 30) && audio.some((a) => a.framesOk > 50) && framesDecoded(current) > 30;
          return ok ? current : undefined;
        },
        30_000,
      );
      // Frames are attributed by the SFrame KID's sender index to the other member's MLS leaf.
      const otherLeaf = s.roster.find((entry) => entry.id === other.id)?.leafIndex;
      expect(otherLeaf).toBeDefined();
      expect(receive(s, 'video').some((v) => v.senderLeafIndex === otherLeaf)).toBe(true);
      expect(s.roster.map((entry) => entry.id).sort()).toEqual(['c-bob', 'p-alice']);
      const sent = s.streams.filter((x) => x.side === 'send');
      expect(sent.every((x) => x.framesOk > 0)).toBe(true);
    }
    // The page lists every MLS member with its kind, and says the call is end-to-end encrypted.
    const rosterText = await alice.page.$$eval('#roster li', (items) => items.map((li) => li.textContent));
    expect(rosterText.join('|')).toMatch(/Alice \(patient\) \(you\)Participant/);
    expect(rosterText.join('|')).toMatch(/Dr\. Bob \(clinician\)Participant/);
    expect(await alice.page.$eval('#e2ee-status', (e) => e.textContent)).toMatch(/End-to-end encrypted/);
    expect(await alice.page.$eval('#recording-indicator', (e) => e.getAttribute('data-recording'))).toBe('false');
    await alice.page.screenshot({ path: join(ARTIFACTS, 'room-two-participants.png') });
  }, 60_000);

  test('the SFU forwards only ciphertext: a subscriber outside the MLS group authenticates nothing and decodes (almost) nothing', async () => {
    const probe = await waitFor(
      'the outsider to receive media',
      async () => {
        const value = await outsider.evaluate(() => window.outsider.stats());
        return value.worker.frames > 200 ? value : undefined;
      },
      30_000,
    );
    expect(probe.worker.authenticated).toBe(0);
    expect(probe.worker.failures['auth-failed']).toBe(probe.worker.frames);
    const videoDecoded = probe.rtp.filter((r) => r.kind === 'video').reduce((sum, r) => sum + Number(r.framesDecoded ?? 0), 0);
    const videoReceived = probe.rtp.filter((r) => r.kind === 'video').reduce((sum, r) => sum + Number(r.framesReceived ?? 0), 0);
    expect(videoReceived).toBeGreaterThan(0);
    // VP8 frame tags stay in the clear (wire profile), so now and then the decoder accepts a key frame's
    // header and renders its encrypted partitions: a small share of frames, and what it shows is noise,
    // not the participants (Alice is red, Bob blue).
    expect(videoDecoded / videoReceived).toBeLessThan(0.25);
    const near = (c: { r: number; g: number; b: number }, r: number, g: number, b: number) => Math.hypot(c.r - r, c.g - g, c.b - b) < 80;
    for (const colour of probe.shown) {
      expect(near(colour, 0xc0, 0x20, 0x20)).toBe(false);
      expect(near(colour, 0x20, 0x40, 0xc0)).toBe(false);
    }
    await outsider.screenshot({ path: join(ARTIFACTS, 'outsider-at-the-sfu.png') });
  }, 60_000);

  test('a member removed from the group stops decrypting within 1 s of the commit', async () => {
    const epochBefore = (await stats(alice)).epoch;
    // Bob drops his key-service connection; the service, as the external sender, proposes his removal
    // and Alice commits it. Bob's browser keeps receiving media from the SFU. The clock starts before the
    // removal is even proposed, so the bound below is stricter than "from the commit".
    const removalStartedAtMs = Date.now();
    await bob.page.evaluate(() => window.chaperoneRoom.leaveGroup());
    await waitFor("Alice to commit Bob's removal", async () => {
      const s = await stats(alice);
      return s.epoch !== epochBefore && s.roster.length === 1 ? s : undefined;
    });
    // Let media flow well past the window, then look at Bob's last successfully opened frame.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const bobStats = await stats(bob);
    for (const stream of [receive(bobStats, 'video')[0]!, receive(bobStats, 'audio')[0]!]) {
      expect(stream.lastOkAtMs).toBeDefined();
      expect(stream.lastOkAtMs! - removalStartedAtMs).toBeLessThanOrEqual(1000);
      // Frames kept arriving from the SFU after that, and none of them opened.
      expect(stream.lastFrameAtMs! - stream.lastOkAtMs!).toBeGreaterThan(2000);
      expect(stream.failures['unknown-kid'] ?? 0).toBeGreaterThan(0);
    }
    // Alice's roster no longer lists Bob.
    await waitFor('the roster to drop Bob', async () => (await alice.page.$$('#roster li')).length === 1);
  }, 60_000);
});
