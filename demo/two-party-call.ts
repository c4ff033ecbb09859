import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Participant } from '../devstack/call-stack.js';
import { launchChromium } from '../devstack/chromium.js';
import { waitFor } from '../devstack/wait-for.js';
import type { CallStats } from '../room/call-session.js';
import { FrameSinkServer } from '../bot/frame-sink-server.js';
import { RecorderBrowser } from '../bot/recorder-browser.js';
import { CallRecorder } from '../bot/call-recorder.js';
import { keyServiceCredentialSource } from '../bot/recorder-credentials.js';
import { parseRecordJobData } from '../bot/record-job.js';
import { sealRequestFor } from '../bot/seal-handoff.js';
import { recordJobPayload } from '../keyservice/recorder-jobs.js';
import { decide, joinConsentParticipant, nextDispatch, setRecordingPolicy, startConsentCallStack } from '../keyservice/consent-call-harness.js';
import { enqueueSealRecording, verifyRecording } from '../queue/index.js';
import { consentRefsFor } from '../queue/consent-refs.js';
import { startSealTestStack } from '../queue/testing/stack.js';
import { sealedAndReleased, waitForRecording } from '../queue/testing/inspect.js';
import { getRecording } from '../queue/catalog.js';

/**
 * The demo on embedded defaults — the whole path, with real components:
 *  1. an end-to-end-encrypted call of two synthetic participants in Debian's Chromium through Janus,
 *     keyed by MLS; an outsider subscribed at the SFU gets only ciphertext;
 *  2. the operator enables recording; both consent; the key service dispatches a recorder, which joins
 *     as a visible member (every roster lists it, the indicator turns on) and writes one stream-copied
 *     file per participant track;
 *  3. one participant withdraws consent: the recorder is removed from the group and stops at once;
 *  4. the pipeline hashes, envelope-encrypts (KMS-rooted keys), stores in S3, reads back, verifies and
 *     signs a manifest; `verify` re-reads everything.
 * Development defaults only, and they say so: a development token issuer, local keys, s3rver as the
 * S3-compatible store and a KMS test double speaking the real protocol. Screenshots go to artifacts/demo/.
 */

const OUT = resolve('artifacts/demo');
const RECORD_SECONDS = Number(process.env.DEMO_RECORD_SECONDS ?? 10);

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function stats(p: Participant): Promise<CallStats> {
  const s = await p.page.evaluate(() => window.chaperoneRoom.stats());
  if (!s) throw new Error(`${p.name} is not in a call`);
  return s;
}

function frames(s: CallStats) {
  const sum = (side: string, kind: string) => s.streams.filter((x) => x.side === side && x.kind === kind).reduce((n, x) => n + x.framesOk, 0);
  const decoded = s.rtp.filter((r) => r.type === 'inbound-rtp' && r.kind === 'video').reduce((n, r) => n + Number(r.framesDecoded ?? 0), 0);
  return `sent ${sum('send', 'video')} video + ${sum('send', 'audio')} audio frames (SFrame-encrypted); decrypted ${sum('receive', 'video')} video + ${sum('receive', 'audio')} audio; decoded ${decoded} video frames`;
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  say('Chaperone demo — a recorded end-to-end-encrypted call, on development defaults');
  say('  (development token issuer, local signing keys, s3rver for S3 and a KMS test double: not for production)\n');
  const seal = await startSealTestStack();
  const call = await startConsentCallStack({ workDir: resolve('.tmp/demo'), roomId: 'room-demo', sfuRoom: 7001, tokenSecret: new Uint8Array(randomBytes(32)) });
  const people: Participant[] = [];
  const outsiderBrowser = await launchChromium();
  const sink = await FrameSinkServer.start();
  const recorderBrowser = new RecorderBrowser();
  const prefix = seal.prefix();
  const workers = seal.workers(seal.services(), prefix);
  try {
    say(`1. The call. SFU: Janus ${call.janus.wsUrl} (E2EE-only room); key service ${call.keyService.url}`);
    await setRecordingPolicy(call, { enabled: true, purpose: 'medical-record', statement: 'This visit is recorded for your medical record.' });
    people.push(await joinConsentParticipant(call, { id: 'p-ana', name: 'Ana (patient)', colorHex: '0xC02020', toneHz: 440, role: 'patient' }));
    people.push(await joinConsentParticipant(call, { id: 'c-ben', name: 'Dr. Ben (clinician)', colorHex: '0x2040C0', toneHz: 660, role: 'clinician' }));
    const [ana, ben] = people as [Participant, Participant];
    const outsider = await outsiderBrowser.browser.newPage();
    await outsider.goto(`${call.web.url}/test/outsider.html`);
    await outsider.evaluate((url, room) => window.outsider.join(url, room), call.janus.wsUrl, call.sfuRoom);
    await waitFor('media both ways', async () => (await stats(ana)).streams.some((s) => s.side === 'receive' && s.kind === 'video' && s.framesOk > 30));
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of people) say(`   ${p.name}: ${frames(await stats(p))}`);
    const probe = await outsider.evaluate(() => window.outsider.stats());
    say(`   An outsider subscribed at the SFU: ${probe.worker.frames} frames received, ${probe.worker.authenticated} authenticated.`);
    await ana.page.screenshot({ path: join(OUT, '1-call.png') });

    say('\n2. Recording. The operator enabled it (purpose: medical record); both consent.');
    const dispatched = nextDispatch(call);
    for (const p of people) {
      await waitFor('the consent prompt', async () => (await p.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 1);
      await decide(p, 'grant');
    }
    const job = parseRecordJobData(recordJobPayload(await dispatched));
    const recorder = new CallRecorder(job, {
      browser: recorderBrowser,
      frameSink: sink,
      pageUrl: `${call.web.url}/recorder/index.html`,
      sfuUrl: call.janus.wsUrl,
      credentials: keyServiceCredentialSource({ keyServiceHttpUrl: call.keyService.url, serviceToken: () => call.tokens.issue({ sub: 'recorder-svc', role: 'recorder' }) }),
      spoolDir: seal.spoolDir,
    });
    const finished = recorder.run();
    await waitFor('the recorder to join', () => recorder.state === 'recording', 30000);
    const roster = (await stats(ana)).roster.map((m) => `${m.name} [${m.kind}]`).join(', ');
    say(`   The key service dispatched recording ${job.recordingId}; the recorder joined the MLS group.`);
    say(`   Ana's roster: ${roster}; recording indicator: ${await ana.page.$eval('#recording-indicator', (e) => e.textContent)}`);
    await ana.page.screenshot({ path: join(OUT, '2-recording.png') });
    say(`   Recording for ${RECORD_SECONDS} s…`);
    await new Promise((r) => setTimeout(r, RECORD_SECONDS * 1000));

    say('\n3. Dr. Ben withdraws his consent.');
    const revokedAt = Date.now();
    await decide(ben, 'revoke');
    const manifest = await finished;
    say(`   The recorder was removed from the group (${manifest.endReason}) and finalized ${Date.now() - revokedAt} ms after the withdrawal.`);
    await waitFor('the indicator to turn off', async () => (await ana.page.$eval('#recording-indicator', (e) => e.getAttribute('data-recording'))) === 'false');
    say(`   Ana's indicator: ${await ana.page.$eval('#recording-indicator', (e) => e.textContent)}`);
    await ana.page.screenshot({ path: join(OUT, '3-withdrawn.png') });
    for (const t of manifest.tracks) {
      say(`   track ${t.trackId}: participant ${t.participantId}, ${t.kind}/${t.codec}, ${((t.endedAtMs - t.startedAtMs) / 1000).toFixed(1)} s, ${t.framesWritten}/${t.framesReceived} frames written, ${t.decryptFailures} decrypt failures, ${t.keyFrameRequests} key-frame requests`);
    }

    say('\n4. Sealing: hash → KMS-rooted envelope encryption → S3 → read back and verify → signed manifest.');
    const enqueuer = seal.enqueuer(prefix);
    // The consent statements the recording ran under, from the key service's ledger (its own database here).
    const consentRefs = await consentRefsFor(call.db.pool, {
      roomId: job.roomId,
      policyVersion: job.policy!.policyVersion,
      startedAtMs: manifest.startedAtMs,
      endedAtMs: manifest.endedAtMs,
    });
    say(`   Consent statements referenced by the manifest: ${consentRefs.length}`);
    await enqueueSealRecording(enqueuer, sealRequestFor(job, manifest, consentRefs));
    await waitForRecording(seal.pool, job.recordingId, sealedAndReleased, 120_000);
    const row = await getRecording(seal.pool, job.recordingId);
    say(`   Sealed; spool released. Manifest SHA-256 ${row?.manifestSha256}`);
    const services = seal.services();
    const report = await verifyRecording({ db: seal.pool, store: services.store, keyRoot: services.keyRoot }, job.recordingId);
    say(`   verify: ${report.ok ? 'OK' : 'FAILED'} — manifest signature ${report.manifest.valid ? 'valid' : 'INVALID'}; ${report.totals.segments} files re-read, decrypted and hashed (${report.totals.plaintextBytes} plaintext bytes, ${report.totals.ciphertextBytes} stored)`);
    say('\n   The signed manifest:');
    say(row?.manifest ? JSON.stringify(JSON.parse(row.manifest), null, 2) : '(none)');
    say(`\nDone. Screenshots in ${OUT}. Nothing left running.`);
    if (!report.ok) process.exitCode = 1;
  } finally {
    await Promise.all(people.map((p) => p.close()));
    await outsiderBrowser.close();
    await recorderBrowser.close();
    await sink.close();
    await workers.close().catch(() => undefined);
    await call.stop();
    await seal.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
