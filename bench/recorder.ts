// Recorder benchmark: `npm run bench -- recorder [--seconds=60] [--calls=1] [--width=640 --height=360]`. A consent-gated call of two
// synthetic participants (audio + VP8 from a generated moving, noisy clip), recorded for N seconds
// by the real recorder process (dist/node/recorder.mjs: node, Chromium, ffmpeg), then — in the same run,
// one after the other — the same call recorded by the same process serving a transcoding baseline page
// (decrypted tracks decoded and re-encoded with MediaRecorder, as a naive recorder does). Counts the CPU
// of the recorder's process tree only, not the participants, Janus or the key service.
// Only --calls=1 is supported so far: the local stack holds one room per key service.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Queue } from 'bullmq';
import { freePort } from '../devstack/free-port.js';
import { startRedisServer } from '../devstack/redis-server.js';
import { processTreeUsage } from '../devstack/process-tree-usage.js';
import { privateNetwork } from '../devstack/private-network.js';
import { waitFor } from '../devstack/wait-for.js';
import type { Participant } from '../devstack/call-stack.js';
import { RECORD_JOB, RECORD_QUEUE } from '../bot/record-job.js';
import type { RecordingTrackManifest } from '../bot/track-manifest.js';
import { recordJobPayload } from '../keyservice/recorder-jobs.js';
import {
  decide,
  joinConsentParticipant,
  nextDispatch,
  pageShowsRecorder,
  setRecordingPolicy,
  startConsentCallStack,
} from '../keyservice/consent-call-harness.js';
import type { CallStats } from '../room/call-session.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

interface ModeResult {
  cpuSeconds: number;
  seconds: number;
  tracks: number;
  peakRssBytes: number;
  framesSent: number;
  manifest?: RecordingTrackManifest;
}

function numberArg(args: readonly string[], name: string, fallback: number): number {
  const raw = args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer, got ${raw}`);
  return value;
}

async function framesSent(people: Participant[]): Promise<number> {
  let total = 0;
  for (const p of people) {
    const stats = (await p.page.evaluate(() => window.chaperoneRoom.stats())) as CallStats;
    total += stats.streams.filter((s) => s.side === 'send').reduce((n, s) => n + s.framesOk, 0);
  }
  return total;
}

async function buildBaselineWeb(context: BenchContext): Promise<string> {
  const dir = join(context.workDir, 'baseline-web');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'recorder'), { recursive: true });
  const common = { bundle: true, format: 'iife' as const, target: 'chrome130', logLevel: 'warning' as const };
  await build({ ...common, entryPoints: [join(context.repoRoot, 'bench/recorder-baseline/baseline-page.ts')], outfile: join(dir, 'recorder/recorder-page.js') });
  await build({ ...common, entryPoints: [join(context.repoRoot, 'bench/recorder-baseline/baseline-worker.ts')], outfile: join(dir, 'recorder/recorder-worker.js') });
  await cp(join(context.repoRoot, 'bot/page/index.html'), join(dir, 'recorder/index.html'));
  return dir;
}

interface Resolution {
  width: number;
  height: number;
}

async function recordOnce(context: BenchContext, mode: 'chaperone' | 'baseline', webDir: string, seconds: number, index: number, size: Resolution): Promise<ModeResult> {
  const secret = new Uint8Array(randomBytes(32));
  const stack = await startConsentCallStack({ workDir: join(context.workDir, `recorder-${mode}`), roomId: `room-bench-${mode}`, sfuRoom: 6100 + index, tokenSecret: secret });
  const redis = await startRedisServer({ port: await freePort() });
  const spoolDir = join(context.workDir, `spool-${mode}`);
  await rm(spoolDir, { recursive: true, force: true });
  let recorder: ChildProcess | undefined;
  const people: Participant[] = [];
  const queue = new Queue(RECORD_QUEUE, { connection: { url: redis.url, maxRetriesPerRequest: null } });
  try {
    recorder = spawn(process.execPath, [join(context.repoRoot, 'dist/node/recorder.mjs')], {
      env: {
        ...process.env,
        CHAPERONE_REDIS_URL: redis.url,
        CHAPERONE_KEY_SERVICE_URL: stack.keyService.url,
        CHAPERONE_SFU_URL: stack.janus.wsUrl,
        CHAPERONE_RECORDER_SPOOL_DIR: spoolDir,
        CHAPERONE_RECORDER_WEB_DIR: webDir,
        CHAPERONE_DEV_TOKEN_SECRET: Buffer.from(secret).toString('base64url'),
        CHAPERONE_RECORDER_DEV_ID: 'recorder-svc',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    recorder.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    recorder.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the recorder process to be ready', () => output.includes('recorder ready'), 30_000);
    await setRecordingPolicy(stack, { enabled: true, purpose: 'medical-record', statement: 'This visit is recorded for your medical record.' });
    people.push(await joinConsentParticipant(stack, { id: 'p-a', name: 'A', colorHex: '0xC02020', toneHz: 440, role: 'patient', seconds: 6, ...size }));
    people.push(await joinConsentParticipant(stack, { id: 'c-b', name: 'B', colorHex: '0x2040C0', toneHz: 660, role: 'clinician', seconds: 6, ...size }));
    const dispatched = nextDispatch(stack);
    for (const p of people) {
      await waitFor('the consent prompt', async () => (await p.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 1);
      await decide(p, 'grant');
    }
    const job = await dispatched;
    await queue.add(RECORD_JOB, recordJobPayload(job), { jobId: job.jobId });
    await waitFor('the recorder to be in the call', async () => (await pageShowsRecorder(people[0]!)).indicator, 60_000);
    // Frames sent from the recorder's arrival to its stop: what the recording should hold.
    const sentBefore = await framesSent(people);
    context.progress(`${mode}: recorder joined; warming up`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const pid = recorder.pid!;
    const before = await processTreeUsage(pid);
    let peakRssBytes = before.rssBytes;
    const startedAt = Date.now();
    context.progress(`${mode}: measuring for ${seconds} s`);
    while (Date.now() - startedAt < seconds * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      peakRssBytes = Math.max(peakRssBytes, (await processTreeUsage(pid)).rssBytes);
    }
    const after = await processTreeUsage(pid);
    const sentAfter = await framesSent(people);
    const elapsed = (Date.now() - startedAt) / 1000;
    recorder.kill('SIGTERM');
    await new Promise((resolve) => recorder!.once('exit', resolve));
    recorder = undefined;
    let manifest: RecordingTrackManifest | undefined;
    if (mode === 'chaperone') {
      const [recording] = await readdir(spoolDir);
      manifest = JSON.parse(await readFile(join(spoolDir, recording!, 'recording-manifest.json'), 'utf8')) as RecordingTrackManifest;
    }
    return { cpuSeconds: after.cpuSeconds - before.cpuSeconds, seconds: elapsed, tracks: 4, peakRssBytes, framesSent: sentAfter - sentBefore, manifest };
  } finally {
    recorder?.kill('SIGKILL');
    await queue.close();
    await Promise.all(people.map((p) => p.close()));
    await redis.stop();
    await stack.stop();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function run(context: BenchContext) {
  privateNetwork();
  const seconds = numberArg(context.args, 'seconds', 60);
  const calls = numberArg(context.args, 'calls', 1);
  if (calls !== 1) throw new RangeError('--calls: only 1 is supported so far (the local stack holds one room per key service)');
  // Camera-like content (moving, noisy): Chromium's built-in fake pattern is unrealistically cheap to
  // encode (harness.md). 640x360 by default; --width/--height to change. The publishers run on the same
  // two cores, and Chromium lowers their resolution when they overload, so larger sizes measure less.
  const size = { width: numberArg(context.args, 'width', 640), height: numberArg(context.args, 'height', 360) };
  const baselineWeb = await buildBaselineWeb(context);
  const ours = await recordOnce(context, 'chaperone', join(context.repoRoot, 'dist/web'), seconds, 0, size);
  const baseline = await recordOnce(context, 'baseline', baselineWeb, seconds, 1, size);
  const manifest = ours.manifest!;
  const trackMinutes = (ours.tracks * ours.seconds) / 60;
  const written = manifest.tracks.reduce((n, t) => n + t.framesWritten, 0);
  const sentWhileRecorded = manifest.tracks.length > 0 ? await Promise.resolve(ours.framesSent) : 0;
  const videoTrackMinutes = (manifest.tracks.filter((t) => t.kind === 'video').length * ours.seconds) / 60;
  const pli = manifest.tracks.filter((t) => t.kind === 'video').reduce((n, t) => n + t.keyFrameRequests, 0);
  const joins = manifest.sessions.map((s) => s.joinMs);
  const cpuPerTrackMin = ours.cpuSeconds / trackMinutes;
  const baselinePerTrackMin = baseline.cpuSeconds / ((baseline.tracks * baseline.seconds) / 60);
  return {
    bench: 'recorder',
    calls,
    seconds,
    video: `${size.width}x${size.height}`,
    cpu_s_per_track_min: Number(cpuPerTrackMin.toFixed(3)),
    baseline_cpu_s_per_track_min: Number(baselinePerTrackMin.toFixed(3)),
    cpu_ratio: Number((baselinePerTrackMin / cpuPerTrackMin).toFixed(2)),
    // Frames written against frames the senders encrypted from the recorder's arrival to its stop.
    completeness: Number(Math.min(1, written / Math.max(1, sentWhileRecorded)).toFixed(4)),
    frames_written: written,
    frames_sent_while_recorded: sentWhileRecorded,
    pli_per_track_min: Number((pli / Math.max(videoTrackMinutes, 1e-9)).toFixed(2)),
    join_p50_ms: percentile(joins, 50),
    join_p95_ms: percentile(joins, 95),
    peak_rss_mib_per_call: Number((ours.peakRssBytes / 1024 / 1024 / calls).toFixed(1)),
    baseline_peak_rss_mib_per_call: Number((baseline.peakRssBytes / 1024 / 1024 / calls).toFixed(1)),
  };
}
