import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SealRecordingRequest, SpooledTrack } from '../seal-request.js';

/**
 * Stand-ins for the recorder's spool in tests and benchmarks: real WebM files made by Debian's ffmpeg —
 * VP8 video (noisy test pattern at a fixed high bitrate, so a few seconds make several MB) and Opus audio
 * (a sine) — and a request shaped like the recorder's track manifest.
 */

const run = promisify(execFile);

export interface TestMedia {
  /** ~8 MB VP8 WebM (4 s, 640×360, 16 Mb/s). */
  bigVideo: string;
  /** ~0.2 MB VP8 WebM (1 s, 320×240). */
  smallVideo: string;
  /** Opus WebM (4 s sine). */
  audio: string;
}

let cached: Promise<TestMedia> | undefined;

/** Generates the media once per process (about 2 s). */
export function testMedia(): Promise<TestMedia> {
  cached ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaperone-media-'));
    const ffmpeg = (args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
    const bigVideo = join(dir, 'big-video.webm');
    const smallVideo = join(dir, 'small-video.webm');
    const audio = join(dir, 'audio.webm');
    await Promise.all([
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30,noise=alls=30:allf=t', '-t', '4', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '16M', '-minrate', '16M', '-maxrate', '16M', '-bufsize', '4M', '-an', bigVideo]),
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=30', '-t', '1', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M', '-an', smallVideo]),
      ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4', '-c:a', 'libopus', '-b:a', '64k', '-vn', audio]),
    ]);
    return { bigVideo, smallVideo, audio };
  })();
  return cached;
}

export interface SpoolFixture {
  request: SealRecordingRequest;
  /** Original bytes of every segment file, by file name (the spool copies get removed). */
  originals: Map<string, Buffer>;
  recordingDir: string;
}

let counter = 0;

export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Writes a recording into `<spoolDir>/<recordingId>/` like the recorder does — a video track of two
 * segments (the big file, then a small one after a "restart") and an audio track of one — and returns the
 * request the recorder would pass to enqueueSealRecording.
 */
export async function spoolRecording(spoolDir: string, options: { recordingId?: string; videoSegments?: 'big+small' | 'big' | 'small' } = {}): Promise<SpoolFixture> {
  const media = await testMedia();
  const recordingId = options.recordingId ?? uniqueId('rec');
  const recordingDir = join(spoolDir, recordingId);
  await mkdir(recordingDir, { recursive: true, mode: 0o700 });
  const originals = new Map<string, Buffer>();
  const t0 = 1_790_000_000_000;
  const place = async (source: string, file: string) => {
    await copyFile(source, join(recordingDir, file));
    originals.set(file, await readFile(source));
    return (await stat(source)).size;
  };
  const layout = options.videoSegments ?? 'big+small';
  const videoSources = layout === 'big+small' ? [media.bigVideo, media.smallVideo] : layout === 'big' ? [media.bigVideo] : [media.smallVideo];
  const videoSegments = [];
  for (const [i, source] of videoSources.entries()) {
    const file = `t01-video-s${String(i + 1).padStart(2, '0')}.webm`;
    await place(source, file);
    videoSegments.push({ file, startedAtMs: t0 + i * 5000, endedAtMs: t0 + i * 5000 + 4000, durationMs: 4000, framesReceived: 120, framesWritten: 120, gaps: [], session: i + 1 });
  }
  await place(media.audio, 't02-audio-s01.webm');
  const video: SpooledTrack = {
    trackId: 't01-video',
    participantId: 'patient-7f3a9c',
    kind: 'video',
    codec: 'vp8',
    startedAtMs: t0,
    endedAtMs: t0 + 9000,
    framesReceived: 240,
    framesWritten: 240,
    decryptFailures: 0,
    gaps: videoSources.length > 1 ? [{ atMs: 4000, durationMs: 1000 }] : [],
    segments: videoSegments,
  };
  const audio: SpooledTrack = {
    trackId: 't02-audio',
    participantId: 'clinician-51b2e0',
    kind: 'audio',
    codec: 'opus',
    startedAtMs: t0,
    endedAtMs: t0 + 4000,
    framesReceived: 200,
    framesWritten: 200,
    decryptFailures: 2,
    gaps: [],
    segments: [{ file: 't02-audio-s01.webm', startedAtMs: t0, endedAtMs: t0 + 4000, durationMs: 4000, framesReceived: 200, framesWritten: 200, gaps: [] }],
  };
  return {
    recordingDir,
    originals,
    request: {
      recordingId,
      roomId: 'room-telehealth-42',
      recorderId: `rec-${recordingId}`,
      policy: { policyId: 'policy-cardiology', policyVersion: 3, purpose: 'medical-record', retentionDays: 3650, part2: false },
      consentRefs: ['consent-0001', 'consent-0002'],
      startedAtMs: t0,
      endedAtMs: t0 + 10_000,
      endReason: 'stopped',
      tracks: [video, audio],
    },
  };
}
