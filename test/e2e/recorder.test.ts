import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { type Participant } from '../../devstack/call-stack.js';
import { waitFor } from '../../devstack/wait-for.js';
import { probeMedia, meanColour, dominantFrequency } from '../../devstack/media-analysis.js';
import { FrameSinkServer } from '../../bot/frame-sink-server.js';
import { RecorderBrowser } from '../../bot/recorder-browser.js';
import { CallRecorder } from '../../bot/call-recorder.js';
import { keyServiceCredentialSource } from '../../bot/recorder-credentials.js';
import { parseRecordJobData } from '../../bot/record-job.js';
import { recordJobPayload, type RecordJobData } from '../../keyservice/recorder-jobs.js';
import {
  decide,
  joinConsentParticipant,
  nextDispatch,
  setRecordingPolicy,
  startConsentCallStack,
  type ConsentCallStack,
} from '../../keyservice/consent-call-harness.js';
import type { CallStats } from '../../room/call-session.js';
import type { RecordingTrackManifest } from '../../bot/track-manifest.js';

/**
 * The recorder in a real consent-gated call: two synthetic participants (red + 440 Hz, blue + 660 Hz) in
 * Chromium through Janus, keyed by MLS; the operator enables recording, both consent, the key service
 * dispatches a record job, and the recorder — its own Chromium, a key-service-issued recorder credential —
 * joins and writes one stream-copied file per participant track.
 */

const RECORD_SECONDS = Number(process.env.RECORDER_TEST_SECONDS ?? 20);

async function sent(p: Participant, kind: 'audio' | 'video'): Promise<number> {
  const stats = (await p.page.evaluate(() => window.chaperoneRoom.stats())) as CallStats;
  return stats.streams.filter((s) => s.side === 'send' && s.kind === kind).reduce((n, s) => n + s.framesOk, 0);
}

describe('the recorder', () => {
  let stack: ConsentCallStack;
  let alice: Participant;
  let bob: Participant;
  let sink: FrameSinkServer;
  let browser: RecorderBrowser;
  let dispatched: Promise<RecordJobData>;
  const spoolDir = join(process.cwd(), '.tmp', 'spool-e2e');

  beforeAll(async () => {
    await rm(spoolDir, { recursive: true, force: true });
    await mkdir(spoolDir, { recursive: true });
    stack = await startConsentCallStack({ workDir: join(process.cwd(), '.tmp', 'e2e-recorder'), roomId: 'room-rec', sfuRoom: 5002 });
    await setRecordingPolicy(stack, { enabled: true, purpose: 'medical-record', statement: 'This visit is recorded for your medical record.' });
    alice = await joinConsentParticipant(stack, { id: 'p-alice', name: 'Alice', colorHex: '0xC02020', toneHz: 440, role: 'patient' });
    bob = await joinConsentParticipant(stack, { id: 'c-bob', name: 'Dr. Bob', colorHex: '0x2040C0', toneHz: 660, role: 'clinician' });
    sink = await FrameSinkServer.start();
    browser = new RecorderBrowser();
    dispatched = nextDispatch(stack);
    for (const p of [alice, bob]) {
      await waitFor(`${p.name} to see the consent prompt`, async () => (await p.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 1);
      await decide(p, 'grant');
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await browser?.close();
    await sink?.close();
    await stack?.stop();
  });

  /** A recorder for the job the key service dispatched; the next dispatch is awaited from then on. */
  async function recorder(): Promise<CallRecorder> {
    const job = parseRecordJobData(recordJobPayload(await dispatched));
    dispatched = nextDispatch(stack);
    return new CallRecorder(job, {
      browser,
      frameSink: sink,
      pageUrl: `${stack.web.url}/recorder/index.html`,
      sfuUrl: stack.janus.wsUrl,
      credentials: keyServiceCredentialSource({
        keyServiceHttpUrl: stack.keyService.url,
        serviceToken: () => stack.tokens.issue({ sub: 'recorder-svc', role: 'recorder' }),
      }),
      spoolDir,
      log: (event, fields) => process.env.RECORDER_TEST_LOG && console.error(event, JSON.stringify(fields)),
    });
  }

  test('writes one stream-copied file per participant track, each with its own participant content', async () => {
    const rec = await recorder();
    const recId = rec.job.recordingId;
    const finished = rec.run();
    await waitFor('the recorder to join', () => rec.state === 'recording', 30_000);
    // Every participant sees the recorder in the roster, as a recorder, and the indicator is on.
    for (const p of [alice, bob]) {
      await waitFor(`${p.name} to list the recorder`, async () =>
        (await p.page.$eval('#recording-indicator', (e) => e.getAttribute('data-recording'))) === 'true',
      );
      expect(await p.page.$$eval('#roster li[data-kind="recorder"]', (items) => items.length)).toBe(1);
    }
    await new Promise((r) => setTimeout(r, 1500)); // let every stream reach its first key frame
    const before = { a: await sent(alice, 'video'), b: await sent(bob, 'video'), aa: await sent(alice, 'audio'), ba: await sent(bob, 'audio') };
    await new Promise((r) => setTimeout(r, RECORD_SECONDS * 1000));
    const after = { a: await sent(alice, 'video'), b: await sent(bob, 'video'), aa: await sent(alice, 'audio'), ba: await sent(bob, 'audio') };
    const stoppedAtMs = Date.now();
    rec.stop();
    const manifest: RecordingTrackManifest = await finished;
    // The window in which the recorder received media: from the first frame of any track to the stop.
    const recordedS = (stoppedAtMs - Math.min(...manifest.tracks.map((t) => t.startedAtMs))) / 1000;

    expect(manifest.endReason).toBe('stopped');
    const track = (id: string, kind: 'audio' | 'video') => manifest.tracks.find((t) => t.participantId === id && t.kind === kind);
    for (const id of ['p-alice', 'c-bob']) {
      for (const kind of ['audio', 'video'] as const) {
        const t = track(id, kind);
        expect(t).toBeDefined();
        expect(t!.segments).toHaveLength(1);
        const probe = await probeMedia(join(spoolDir, recId, t!.segments[0]!.file));
        expect(probe.codec).toBe(kind === 'video' ? 'vp8' : 'opus');
        // The file holds what was written, and covers the time the participant published while the
        // recorder was in the call, within 0.5 s.
        expect(Math.abs(probe.durationS - t!.segments[0]!.durationMs / 1000)).toBeLessThan(0.1);
        expect(Math.abs(probe.durationS - recordedS)).toBeLessThan(0.5);
        expect(probe.durationS).toBeGreaterThan(RECORD_SECONDS);
      }
    }
    // Completeness: frames written against frames the senders encrypted while the recorder was in the call.
    const written = (id: string, kind: 'audio' | 'video') => track(id, kind)!.framesWritten;
    expect(written('p-alice', 'video') / (after.a - before.a)).toBeGreaterThanOrEqual(0.99);
    expect(written('c-bob', 'video') / (after.b - before.b)).toBeGreaterThanOrEqual(0.99);
    expect(written('p-alice', 'audio') / (after.aa - before.aa)).toBeGreaterThanOrEqual(0.99);
    expect(written('c-bob', 'audio') / (after.ba - before.ba)).toBeGreaterThanOrEqual(0.99);

    // No key-frame request storm toward the senders: a receiver that drops frames sends about 60 PLIs in
    // 25 s (harness.md). The recorder asks once a second only while a segment waits for its first key
    // frame (longer on a loaded machine), then not at all: stay under a quarter of the storm's rate.
    const stormPerSecond = 60 / 25;
    for (const id of ['p-alice', 'c-bob']) {
      const t = track(id, 'video')!;
      expect(t.keyFrameRequests).toBeLessThan((stormPerSecond / 4) * ((t.endedAtMs - t.startedAtMs) / 1000));
    }
    // Alice's video shows Alice (red), not Bob (blue); her audio carries her tone.
    const aliceColour = await meanColour(join(spoolDir, recId, track('p-alice', 'video')!.segments[0]!.file));
    const bobColour = await meanColour(join(spoolDir, recId, track('c-bob', 'video')!.segments[0]!.file));
    expect(aliceColour.r).toBeGreaterThan(aliceColour.b + 60);
    expect(bobColour.b).toBeGreaterThan(bobColour.r + 60);
    expect(Math.abs((await dominantFrequency(join(spoolDir, recId, track('p-alice', 'audio')!.segments[0]!.file))) - 440)).toBeLessThan(20);
    expect(Math.abs((await dominantFrequency(join(spoolDir, recId, track('c-bob', 'audio')!.segments[0]!.file))) - 660)).toBeLessThan(20);
    // After the recorder left, the indicator goes off again.
    await waitFor('the indicator to turn off', async () =>
      (await alice.page.$eval('#recording-indicator', (e) => e.getAttribute('data-recording'))) === 'false',
    );
  }, 120_000);

  test("SIGKILL of the recorder's Chromium: it rejoins within 5 s as a new member, earlier files play, the gap is at most 5 s", async () => {
    const rec = await recorder();
    const recId = rec.job.recordingId;
    const finished = rec.run();
    await waitFor('the recorder to join', () => rec.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 5000));
    const pid = await browser.pid();
    expect(pid).toBeDefined();
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    await waitFor('the recorder to rejoin', () => rec.state === 'recording' && rec.joinTimesMs.length === 2, 15_000);
    const rejoinedAfterMs = Date.now() - killedAt;
    expect(rejoinedAfterMs).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 5000));
    rec.stop();
    const manifest = await finished;
    expect(manifest.sessions).toHaveLength(2);
    for (const t of manifest.tracks) {
      expect(t.segments.length).toBe(2);
      const first = await probeMedia(join(spoolDir, recId, t.segments[0]!.file));
      expect(first.durationS).toBeGreaterThan(3);
      const gap = t.segments[1]!.startedAtMs - t.segments[0]!.endedAtMs;
      expect(gap).toBeLessThanOrEqual(5000);
    }
  }, 120_000);

  test('removed from the MLS group: no frame sealed after the commit is written, and the recorder stops within 1 s', async () => {
    const rec = await recorder();
    const finished = rec.run();
    await waitFor('the recorder to join', () => rec.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 4000));
    const epochBefore = ((await alice.page.evaluate(() => window.chaperoneRoom.stats())) as CallStats).epoch;
    const doneAt = new Promise<number>((resolve) => rec.onState((state) => state === 'done' && resolve(Date.now())));
    // Bob withdraws: the key service proposes the recorder's removal at once and a member commits it.
    await decide(bob, 'revoke');
    const manifest = await finished;
    const commit = await waitFor('Alice to be in the epoch without the recorder', async () => {
      const s = (await alice.page.evaluate(() => window.chaperoneRoom.stats())) as CallStats;
      return s.epoch !== epochBefore && !s.roster.some((m) => m.kind === 'recorder') ? s : undefined;
    });
    const commitAtMs = Math.min(...Object.entries(commit.epochTimesMs).filter(([e]) => BigInt(e) > BigInt(epochBefore ?? 0)).map(([, t]) => t));
    expect(manifest.endReason).toBe('removed-from-group');
    // The recorder finalized within a second of the commit...
    expect((await doneAt) - commitAtMs).toBeLessThan(1000);
    // ...and wrote nothing sealed after it: every track's last frame arrived before the new epoch began
    // (frames of the new epoch cannot be opened without its key; 300 ms allows for in-flight frames).
    for (const t of manifest.tracks) expect(t.endedAtMs).toBeLessThanOrEqual(commitAtMs + 300);
  }, 60_000);
  test('a participant who joins late and one who leaves early get files covering just their time', async () => {
    // All-party consent removes the recorder before admitting anyone who has not consented, so a late
    // joiner only appears in a recording under the operator's explicit one-party mode.
    dispatched = nextDispatch(stack);
    await setRecordingPolicy(stack, { enabled: true, purpose: 'medical-record', consentMode: 'one-party', statement: 'This visit is recorded for your medical record.' });
    await waitFor('the new policy to reach Alice', async () => (await alice.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 2);
    await decide(alice, 'grant');
    const rec = await recorder();
    const recId = rec.job.recordingId;
    const finished = rec.run();
    await waitFor('the recorder to join', () => rec.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const carol = await joinConsentParticipant(stack, { id: 'p-carol', name: 'Carol', colorHex: '0x20A040', toneHz: 550, role: 'patient' });
    const carolJoinedAt = Date.now();
    await new Promise((r) => setTimeout(r, 6000));
    const bobLeftAt = Date.now();
    await bob.page.evaluate(() => window.chaperoneRoom.leave());
    await new Promise((r) => setTimeout(r, 4000));
    rec.stop();
    const manifest = await finished;
    await carol.close();
    const track = (id: string, kind: 'audio' | 'video') => manifest.tracks.find((t) => t.participantId === id && t.kind === kind)!;
    for (const kind of ['audio', 'video'] as const) {
      const carolTrack = track('p-carol', kind);
      expect(carolTrack.startedAtMs).toBeGreaterThanOrEqual(carolJoinedAt - 1000);
      expect(carolTrack.endedAtMs - carolTrack.startedAtMs).toBeGreaterThan(8000);
      const bobTrack = track('c-bob', kind);
      expect(Math.abs(bobTrack.endedAtMs - bobLeftAt)).toBeLessThan(1500);
      const aliceTrack = track('p-alice', kind);
      expect(aliceTrack.endedAtMs).toBeGreaterThan(bobLeftAt + 3000);
      const carolProbe = await probeMedia(join(spoolDir, recId, carolTrack.segments[0]!.file));
      expect(Math.abs(carolProbe.durationS - (carolTrack.endedAtMs - carolTrack.startedAtMs) / 1000)).toBeLessThan(0.5);
    }
    expect(Math.abs((await dominantFrequency(join(spoolDir, recId, track('p-carol', 'audio').segments[0]!.file))) - 550)).toBeLessThan(20);
  }, 120_000);

});
