import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { joinParticipant, startCallStack, type Participant } from '../devstack/call-stack.js';
import { launchChromium } from '../devstack/chromium.js';
import { waitFor } from '../devstack/wait-for.js';
import type { CallStats } from '../room/call-session.js';

/**
 * The demo on embedded defaults: a two-party end-to-end-encrypted call between synthetic participants,
 * through Janus, keyed by MLS, in Debian's Chromium — and what it proves, printed as it goes:
 *  1. both participants decrypt and decode each other (frame counts from the media worker and getStats);
 *  2. a subscriber at the SFU outside the MLS group gets only ciphertext (nothing authenticates or decodes);
 *  3. a member removed from the group stops decrypting within a second of the commit.
 * Screenshots go to artifacts/demo/. Development defaults only: a dev token issuer and a local
 * external-sender key, said so by the key service.
 */

const OUT = resolve('artifacts/demo');
const CALL_SECONDS = Number(process.env.DEMO_CALL_SECONDS ?? 8);

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function stats(p: Participant): Promise<CallStats> {
  const s = await p.page.evaluate(() => window.chaperoneRoom.stats());
  if (!s) throw new Error(`${p.name} is not in a call`);
  return s;
}

function summary(s: CallStats) {
  const sum = (side: string, kind: string, key: 'frames' | 'framesOk') =>
    s.streams.filter((x) => x.side === side && x.kind === kind).reduce((n, x) => n + x[key], 0);
  const decoded = s.rtp.filter((r) => r.type === 'inbound-rtp' && r.kind === 'video').reduce((n, r) => n + Number(r.framesDecoded ?? 0), 0);
  return {
    videoEncrypted: sum('send', 'video', 'framesOk'),
    audioEncrypted: sum('send', 'audio', 'framesOk'),
    videoDecrypted: sum('receive', 'video', 'framesOk'),
    audioDecrypted: sum('receive', 'audio', 'framesOk'),
    videoDecoded: decoded,
  };
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  say('Chaperone demo — a two-party end-to-end-encrypted call (development defaults)');
  const stack = await startCallStack({ workDir: resolve('.tmp/demo'), roomId: 'room-demo', sfuRoom: 7001 });
  const participants: Participant[] = [];
  const outsiderBrowser = await launchChromium();
  try {
    say(`  SFU: Janus ${stack.janus.wsUrl} (room requires E2EE) · key service ${stack.keyService.wsUrl}`);
    participants.push(await joinParticipant(stack, { id: 'p-ana', name: 'Ana (patient)', colorHex: '0xC02020', toneHz: 440, role: 'patient' }));
    participants.push(await joinParticipant(stack, { id: 'c-ben', name: 'Dr. Ben (clinician)', colorHex: '0x2040C0', toneHz: 660, role: 'clinician' }));
    const [ana, ben] = participants as [Participant, Participant];
    const outsider = await outsiderBrowser.browser.newPage();
    await outsider.goto(`${stack.web.url}/test/outsider.html`);
    await outsider.evaluate((url, room) => window.outsider.join(url, room), stack.janus.wsUrl, stack.sfuRoom);
    say('  both participants joined the MLS group and the SFU; an outsider subscribed at the SFU without keys');

    await waitFor('media both ways', async () => {
      const [a, b] = [summary(await stats(ana)), summary(await stats(ben))];
      return a.videoDecoded > 10 && b.videoDecoded > 10;
    }, 30000);
    say(`  call running for ${CALL_SECONDS} s…`);
    await new Promise((r) => setTimeout(r, CALL_SECONDS * 1000));

    for (const p of participants) {
      const s = await stats(p);
      const f = summary(s);
      say(`\n  ${p.name} — MLS epoch ${s.epoch}, roster: ${s.roster.map((m) => `${m.name} [${m.kind}]`).join(', ')}`);
      say(`    sent (SFrame-encrypted): video ${f.videoEncrypted} frames, audio ${f.audioEncrypted} frames`);
      say(`    received and decrypted:  video ${f.videoDecrypted} frames, audio ${f.audioDecrypted} frames; video frames decoded ${f.videoDecoded}`);
      const shot = join(OUT, `${p.id}.png`);
      await p.page.screenshot({ path: shot });
      say(`    screenshot: ${shot}`);
    }
    const probe = (await outsider.evaluate(() => window.outsider.stats())) as {
      worker: { frames: number; authenticated: number };
      rtp: Array<Record<string, unknown>>;
    };
    const probeDecoded = probe.rtp.filter((r) => r.kind === 'video').reduce((n, r) => n + Number(r.framesDecoded ?? 0), 0);
    say(`\n  outsider at the SFU: ${probe.worker.frames} frames received, ${probe.worker.authenticated} authenticated, ${probeDecoded} video frames decoded`);

    const before = (await stats(ana)).epoch;
    const removalStartedAt = Date.now();
    await ben.page.evaluate(() => window.chaperoneRoom.leaveGroup());
    const after = await waitFor('the removal commit', async () => {
      const s = await stats(ana);
      return s.epoch !== before && s.roster.length === 1 ? s : undefined;
    });
    await new Promise((r) => setTimeout(r, 2500));
    const benAfter = await stats(ben);
    const lastOk = Math.max(...benAfter.streams.filter((x) => x.side === 'receive').map((x) => x.lastOkAtMs ?? 0));
    say(`\n  Dr. Ben left the MLS group: epoch ${before} → ${after.epoch}; his last decrypted frame was ${lastOk - removalStartedAt} ms after he left;`);
    say(`  since then his browser still receives frames from the SFU but opens none of them.`);
    say('\nDone. Nothing left running.');
  } finally {
    await Promise.all(participants.map((p) => p.close()));
    await outsiderBrowser.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
