// Recorder benchmark: `npm run bench -- recorder [--seconds=60] [--calls=1] [--baseline=0]
// [--publisher-nice=N] [--width=1280 --height=720]`. K consent-gated calls (default 1), each of two synthetic
// participants (audio + VP8 from a generated moving, noisy clip), recorded at once for N seconds by ONE
// real recorder process (dist/node/recorder.mjs: node, one Chromium with a browser context per call,
// ffmpeg), then — in the same run, one after the other — the same calls recorded by the same process
// serving a transcoding baseline page (decrypted tracks decoded and re-encoded with MediaRecorder, as a
// naive recorder does). Counts the CPU of the recorder's process tree only (browser, renderers, GPU,
// network and other utility processes, node, every ffmpeg), not the participants, Janus or the key service.
//
// Besides the JSON figures, stderr gets per run: CPU by process role and by thread, what each publisher
// actually encoded (Chromium lowers resolution or frame rate when a publisher is CPU-starved: both runs
// must get the same input), what the recorder's receivers got (frames decoded and their size), and the
// load average (the machine is shared: figures taken under load are not comparable).
// RECORDER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the recorder's Node process.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Queue } from 'bullmq';
import { freePort } from '../devstack/free-port.js';
import { startRedisServer } from '../devstack/redis-server.js';
import { cpuByRole, cpuByThread, processTreePssBytes, processTreeSamples, processTreeThreads, processTreeUsage } from '../devstack/process-tree-usage.js';
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
  type ConsentCallStack,
} from '../keyservice/consent-call-harness.js';
import { numberArg } from './support/args.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

type Mode = 'chaperone' | 'baseline';
type Kind = 'audio' | 'video';

interface Size {
  width: number;
  height: number;
}

/** Frames each participant's sender had encrypted, per kind, at a page-clock instant. */
interface SenderSample {
  atMs: number;
  counts: Record<Kind, number>;
}

interface SentVideo {
  participant: string;
  width: number;
  height: number;
  fps: number;
  limitation: string;
}

interface StreamLog {
  recordingId: string;
  trackId?: string;
  kind: Kind;
  framesSealed?: number;
  framesDecrypted?: number;
  framesDecoded?: number;
  frameWidth?: number;
  frameHeight?: number;
  packetsReceived?: number;
  packetsLost?: number;
}

interface ModeResult {
  seconds: number;
  tracks: number;
  cpuSeconds: number;
  cpuByRole: Record<string, number>;
  cpuByThread: Record<string, number>;
  publisherCpuSeconds: number;
  peakRssBytes: number;
  peakPssBytes: number;
  sent: SentVideo[];
  received: StreamLog[];
  load: string;
  manifests: RecordingTrackManifest[];
  senders: Map<string, SenderSample[]>;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Frames the participant's sender encrypted so far, per kind, read with the page's own clock. */
async function senderSample(p: Participant): Promise<SenderSample> {
  return p.page.evaluate(async () => {
    // The worker answers with its counters first (then stats() reads getStats): they date from the call.
    const atMs = Date.now();
    const stats = await window.chaperoneRoom.stats();
    const counts = { audio: 0, video: 0 };
    for (const s of stats?.streams ?? []) if (s.side === 'send') counts[s.kind as 'audio' | 'video'] += s.framesOk;
    return { atMs, counts };
  });
}

/** What the participant's video encoder produced (Chromium lowers resolution when CPU-starved). */
async function outboundVideo(p: Participant): Promise<{ framesEncoded: number; width: number; height: number; limitation: string; atMs: number }> {
  return p.page.evaluate(async () => {
    const stats = await window.chaperoneRoom.stats();
    const video = stats?.rtp.find((entry) => entry.type === 'outbound-rtp' && entry.kind === 'video') ?? {};
    return {
      framesEncoded: Number(video.framesEncoded ?? 0),
      width: Number(video.frameWidth ?? 0),
      height: Number(video.frameHeight ?? 0),
      limitation: String(video.qualityLimitationReason ?? 'unknown'),
      atMs: Date.now(),
    };
  });
}

async function publishersCpu(people: Participant[]): Promise<number> {
  let total = 0;
  for (const p of people) {
    const pid = p.chromium.browser.process()?.pid;
    if (pid) total += (await processTreeUsage(pid)).cpuSeconds;
  }
  return total;
}

/** The sender's count at `atMs`, interpolated between the samples around it. */
function sentAt(samples: SenderSample[], kind: Kind, atMs: number): number | undefined {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (atMs >= a.atMs && atMs <= b.atMs) {
      const f = b.atMs === a.atMs ? 0 : (atMs - a.atMs) / (b.atMs - a.atMs);
      return a.counts[kind] + f * (b.counts[kind] - a.counts[kind]);
    }
  }
  return undefined;
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

const COLOURS = ['0xC02020', '0x2040C0', '0x20A040', '0xC0A020', '0x8020C0', '0x20A0C0', '0xC06020', '0x606060'];

async function recordCalls(context: BenchContext, mode: Mode, webDir: string, options: { seconds: number; calls: number; size: Size; publisherNice: number }): Promise<ModeResult> {
  const { seconds, calls, size } = options;
  const secret = new Uint8Array(randomBytes(32));
  const rooms = Array.from({ length: calls }, (_, i) => ({ roomId: `room-bench-${mode}-${i + 1}`, sfuRoom: (mode === 'chaperone' ? 6100 : 6300) + i + 1 }));
  const stack = await startConsentCallStack({
    workDir: join(context.workDir, `recorder-${mode}`),
    roomId: rooms[0]!.roomId,
    sfuRoom: rooms[0]!.sfuRoom,
    extraRooms: rooms.slice(1),
    tokenSecret: secret,
  });
  const redis = await startRedisServer({ port: await freePort() });
  const spoolDir = join(context.workDir, `spool-${mode}`);
  await rm(spoolDir, { recursive: true, force: true });
  let recorder: ChildProcess | undefined;
  const people: Participant[] = [];
  const queue = new Queue(RECORD_QUEUE, { connection: { url: redis.url, maxRetriesPerRequest: null } });
  const senders = new Map<string, SenderSample[]>();
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();
  try {
    const nodeArgs = (process.env.RECORDER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    recorder = spawn(process.execPath, [...nodeArgs, join(context.repoRoot, 'dist/node/recorder.mjs')], {
      env: {
        ...process.env,
        CHAPERONE_REDIS_URL: redis.url,
        CHAPERONE_KEY_SERVICE_URL: stack.keyService.url,
        CHAPERONE_SFU_URL: stack.janus.wsUrl,
        CHAPERONE_RECORDER_SPOOL_DIR: spoolDir,
        CHAPERONE_RECORDER_WEB_DIR: webDir,
        CHAPERONE_RECORDER_MAX_CALLS: String(calls),
        CHAPERONE_OPS_PORT: '0',
        CHAPERONE_DEV_TOKEN_SECRET: Buffer.from(secret).toString('base64url'),
        CHAPERONE_RECORDER_DEV_ID: 'recorder-svc',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    recorder.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    recorder.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the recorder process to be ready', () => output.includes('recorder ready'), 30_000);

    const calls_: Array<{ stack: ConsentCallStack; people: Participant[] }> = [];
    for (const [i, room] of rooms.entries()) {
      const view = stack.room(room.roomId);
      await setRecordingPolicy(view, { enabled: true, purpose: 'medical-record', statement: 'This visit is recorded for your medical record.' });
      const pair = [
        await joinConsentParticipant(view, { id: `p-a${i + 1}`, name: `A${i + 1}`, colorHex: COLOURS[(2 * i) % COLOURS.length]!, toneHz: 440, role: 'patient', seconds: 6, ...size }),
        await joinConsentParticipant(view, { id: `c-b${i + 1}`, name: `B${i + 1}`, colorHex: COLOURS[(2 * i + 1) % COLOURS.length]!, toneHz: 660, role: 'clinician', seconds: 6, ...size }),
      ];
      people.push(...pair);
      calls_.push({ stack: view, people: pair });
    }
    if (options.publisherNice !== 0) {
      // Keeps the publishers' input steady on a shared machine, so both runs record the same thing.
      for (const p of people) {
        const pid = p.chromium.browser.process()?.pid;
        if (pid) spawnSync('renice', ['-n', String(options.publisherNice), '-g', String(pid)]);
      }
    }
    // Every sender's encrypted-frame counters, once a second, from before the recorder arrives to after
    // it stops: completeness compares each track with what its sender encrypted in the same span.
    for (const p of people) senders.set(p.id, []);
    sampler = (async () => {
      while (sampling) {
        await Promise.all(people.map(async (p) => senders.get(p.id)!.push(await senderSample(p))));
        await sleep(1000);
      }
    })();
    for (const call of calls_) {
      const dispatched = nextDispatch(call.stack);
      for (const p of call.people) {
        await waitFor('the consent prompt', async () => (await p.page.evaluate(() => window.chaperoneConsent.state())).policy?.version === 1);
        await decide(p, 'grant');
      }
      const job = await dispatched;
      await queue.add(RECORD_JOB, recordJobPayload(job), { jobId: job.jobId });
    }
    for (const call of calls_) await waitFor('the recorder to be in the call', async () => (await pageShowsRecorder(call.people[0]!)).indicator, 60_000);
    context.progress(`${mode}: recorder joined ${calls} call(s); warming up`);
    await sleep(3000);

    const pid = recorder.pid!;
    const loadBefore = loadavg()[0]!;
    const sentBefore = await Promise.all(people.map(outboundVideo));
    const publishersBefore = await publishersCpu(people);
    const threadsBefore = await processTreeThreads(pid);
    const before = await processTreeSamples(pid);
    let peakRssBytes = 0;
    let peakPssBytes = 0;
    const startedAt = Date.now();
    context.progress(`${mode}: measuring for ${seconds} s`);
    while (Date.now() - startedAt < seconds * 1000) {
      await sleep(1000);
      peakRssBytes = Math.max(peakRssBytes, (await processTreeUsage(pid)).rssBytes);
      peakPssBytes = Math.max(peakPssBytes, await processTreePssBytes(pid));
    }
    const after = await processTreeSamples(pid);
    const threads = cpuByThread(threadsBefore, await processTreeThreads(pid));
    const elapsed = (Date.now() - startedAt) / 1000;
    const publishersAfter = await publishersCpu(people);
    const sentAfter = await Promise.all(people.map(outboundVideo));
    const load = `${loadBefore.toFixed(2)}->${loadavg()[0]!.toFixed(2)}`;
    const sent = sentAfter.map((a, i) => ({
      participant: people[i]!.id,
      width: a.width,
      height: a.height,
      fps: Number(((a.framesEncoded - sentBefore[i]!.framesEncoded) / ((a.atMs - sentBefore[i]!.atMs) / 1000)).toFixed(1)),
      limitation: a.limitation,
    }));
    const byRole = cpuByRole(before, after);
    recorder.kill('SIGTERM');
    await new Promise((resolve) => recorder!.once('exit', resolve));
    recorder = undefined;
    await sleep(1000); // one more sender sample after the last frame written
    sampling = false;
    await sampler;

    const manifests: RecordingTrackManifest[] = [];
    for (const recording of await readdir(spoolDir)) {
      const text = await readFile(join(spoolDir, recording, 'recording-manifest.json'), 'utf8').catch(() => undefined);
      if (text) manifests.push(JSON.parse(text) as RecordingTrackManifest);
    }
    await writeFile(join(context.workDir, `recorder-${mode}.log`), output); // the recorder's own log lines, for a closer look
    const received: StreamLog[] = [];
    for (const line of output.split('\n')) {
      if (!line.includes('"recorder session streams"')) continue;
      try {
        const entry = JSON.parse(line) as { recordingId: string; streams?: StreamLog[] };
        received.push(...(entry.streams ?? []).map((stream) => ({ ...stream, recordingId: entry.recordingId })));
      } catch {
        // not a JSON log line
      }
    }
    const result: ModeResult = {
      seconds: elapsed,
      tracks: 4 * calls,
      cpuSeconds: Object.values(byRole).reduce((n, v) => n + v, 0),
      cpuByRole: byRole,
      cpuByThread: threads,
      publisherCpuSeconds: publishersAfter - publishersBefore,
      peakRssBytes,
      peakPssBytes,
      sent,
      received,
      load,
      manifests,
      senders,
    };
    context.progress(`${mode}: cpu ${result.cpuSeconds.toFixed(2)} s in ${elapsed.toFixed(0)} s; by role ${JSON.stringify(byRole)}; load ${load}`);
    context.progress(`${mode}: cpu by thread ${JSON.stringify(threads)}`);
    context.progress(`${mode}: publishers sent ${JSON.stringify(sent)} (publishers' cpu ${result.publisherCpuSeconds.toFixed(1)} s)`);
    context.progress(`${mode}: receivers got ${JSON.stringify(received)}`);
    return result;
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
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

interface Completeness {
  written: number;
  expected: number;
  /** The same against the senders' counters, interpolated (a cross-check, ±1-2 frames per track end). */
  expectedBySenderCounters: number;
  beforeFirstKeyFrame: number;
  worstTrack: number;
  tracks: number;
  perTrack: string[];
}

/**
 * Frames written against frames the track's sender sealed between the first and the last frame the
 * recorder received on it: the SFrame CTR span each receive stream reports (exact, and it counts frames
 * lost on the way — network, SFU — as well as any the recorder lost). Video frames that arrived before the
 * first key frame of the track's first segment cannot start a file and are counted apart.
 */
function completeness(result: ModeResult): Completeness {
  const out: Completeness = { written: 0, expected: 0, expectedBySenderCounters: 0, beforeFirstKeyFrame: 0, worstTrack: 1, tracks: 0, perTrack: [] };
  for (const manifest of result.manifests) {
    for (const track of manifest.tracks) {
      const skipped = track.segments[0]?.framesBeforeKeyFrame ?? 0;
      const streams = result.received.filter((r) => r.recordingId === manifest.recordingId && r.trackId === track.trackId);
      const sealed = streams.reduce((n, r) => n + (r.framesSealed ?? 0), 0);
      if (streams.length === 0 || sealed === 0) throw new Error(`no sealed-frame count for track ${track.trackId} of ${manifest.recordingId}`);
      const expected = Math.max(1, sealed - skipped);
      const samples = result.senders.get(track.participantId) ?? [];
      const from = sentAt(samples, track.kind, track.startedAtMs);
      const to = sentAt(samples, track.kind, track.endedAtMs);
      if (from !== undefined && to !== undefined) out.expectedBySenderCounters += Math.max(1, Math.round(to - from) + 1 - skipped);
      out.perTrack.push(`${track.participantId}/${track.kind}: ${track.framesWritten}/${expected}`);
      out.written += track.framesWritten;
      out.expected += expected;
      out.beforeFirstKeyFrame += skipped;
      out.worstTrack = Math.min(out.worstTrack, track.framesWritten / expected);
      out.tracks++;
    }
  }
  return out;
}

export async function run(context: BenchContext) {
  privateNetwork();
  const seconds = numberArg(context.args, 'seconds', 60, 1);
  const calls = numberArg(context.args, 'calls', 1, 1);
  const withBaseline = numberArg(context.args, 'baseline', 1, 0) !== 0;
  const publisherNice = numberArg(context.args, 'publisher-nice', 0, -20);
  // Camera-like content (moving, noisy): Chromium's built-in fake pattern is unrealistically cheap to
  // encode (harness.md). A 1280x720 clip and camera by default (an HD consultation; publishers' bandwidth
  // estimate usually settles at 960x540 within the minute); --width=640 --height=360 for the small case.
  // --width/--height set the clip and the room page's capture size (CallConfig.capture). Publishers run on the same two cores: sent_video says what they
  // actually encoded; --publisher-nice=-5 gives them priority over everything else.
  const size = { width: numberArg(context.args, 'width', 1280, 16), height: numberArg(context.args, 'height', 720, 16) };
  const options = { seconds, calls, size, publisherNice };
  const baselineWeb = await buildBaselineWeb(context);
  const ours = await recordCalls(context, 'chaperone', join(context.repoRoot, 'dist/web'), options);
  // --baseline=0 skips the transcoding run (quick iterations, capacity scans): no cpu_ratio then.
  const baseline = withBaseline ? await recordCalls(context, 'baseline', baselineWeb, options) : undefined;

  const tracks = ours.manifests.flatMap((m) => m.tracks);
  const video = tracks.filter((t) => t.kind === 'video');
  const videoMinutes = video.reduce((n, t) => n + (t.endedAtMs - t.startedAtMs) / 60_000, 0);
  const pli = video.reduce((n, t) => n + t.keyFrameRequests, 0);
  const joins = ours.manifests.flatMap((m) => m.sessions.map((s) => s.joinMs));
  const perTrackMin = (r: ModeResult) => r.cpuSeconds / ((r.tracks * r.seconds) / 60);
  const done = completeness(ours);
  context.progress(`frames written/expected per track: ${done.perTrack.join(', ')}`);
  const cpuPerTrackMin = perTrackMin(ours);
  return {
    bench: 'recorder',
    calls,
    seconds,
    // What the publishers' encoders produced, not what was asked for: a CPU-starved publisher lowers its
    // resolution or frame rate (WebRTC's quality limitation).
    video: [...new Set(ours.sent.map((v) => `${v.width}x${v.height}`))].join(','),
    source_clip: `${size.width}x${size.height}`,
    cpu_s_per_track_min: Number(cpuPerTrackMin.toFixed(3)),
    ...(baseline
      ? {
          baseline_cpu_s_per_track_min: Number(perTrackMin(baseline).toFixed(3)),
          cpu_ratio: Number((perTrackMin(baseline) / cpuPerTrackMin).toFixed(2)),
        }
      : {}),
    completeness: Number((done.written / Math.max(1, done.expected)).toFixed(4)),
    completeness_worst_track: Number(done.worstTrack.toFixed(4)),
    completeness_vs_sender_counters: Number((done.written / Math.max(1, done.expectedBySenderCounters)).toFixed(4)),
    tracks_recorded: done.tracks,
    frames_written: done.written,
    frames_expected: done.expected,
    frames_before_first_key_frame: done.beforeFirstKeyFrame,
    pli_per_track_min: Number((pli / Math.max(videoMinutes, 1e-9)).toFixed(2)),
    join_p50_ms: percentile(joins, 50),
    join_p95_ms: percentile(joins, 95),
    // RSS counts pages shared between Chromium's processes once per process; PSS splits them.
    peak_rss_mib_per_call: Number((ours.peakRssBytes / 1024 / 1024 / calls).toFixed(1)),
    peak_pss_mib_per_call: Number((ours.peakPssBytes / 1024 / 1024 / calls).toFixed(1)),
    cpu_by_role: ours.cpuByRole,
    sent_video: ours.sent.map((s) => `${s.width}x${s.height}@${s.fps}${s.limitation === 'none' ? '' : ` (${s.limitation})`}`),
    publishers_cpu_s: Number(ours.publisherCpuSeconds.toFixed(1)),
    load: ours.load,
    ...(baseline
      ? {
          baseline_cpu_by_role: baseline.cpuByRole,
          baseline_sent_video: baseline.sent.map((s) => `${s.width}x${s.height}@${s.fps}${s.limitation === 'none' ? '' : ` (${s.limitation})`}`),
          baseline_decoded: baseline.received.filter((r) => r.kind === 'video').map((r) => `${r.framesDecoded ?? 0} frames ${r.frameWidth ?? 0}x${r.frameHeight ?? 0}`),
          baseline_peak_pss_mib_per_call: Number((baseline.peakPssBytes / 1024 / 1024 / calls).toFixed(1)),
          baseline_publishers_cpu_s: Number(baseline.publisherCpuSeconds.toFixed(1)),
          baseline_load: baseline.load,
        }
      : {}),
  };
}
