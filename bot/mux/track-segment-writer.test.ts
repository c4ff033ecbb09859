import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackSegmentWriter } from './track-segment-writer.js';
import { reindexWebm } from './ffmpeg-track-writer.js';
import { encodedOpusPackets, encodedVp8Frames, ffprobe } from './test-media.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'segment-'));
});

const NEAR_WRAP = 0xffff_ffff - 90_000; // the RTP clock wraps one second into the stream

test('VP8 frames are stream-copied into an indexed WebM with RTP timing, across the RTP wrap', async () => {
  const frames = await encodedVp8Frames(join(dir, 'in.ivf'), 3);
  const writer = new TrackSegmentWriter(join(dir, 'video.webm'), 'video');
  const t0 = Date.now();
  for (const [i, payload] of frames.entries()) {
    await writer.push({ payload, rtpTimestamp: (NEAR_WRAP + i * 3000) >>> 0, receivedAtMs: t0 + (i * 1000) / 30 });
  }
  const report = await writer.close();
  expect(report.framesWritten).toBe(frames.length);
  expect(report.anchorMs).toBeCloseTo(t0, 6);
  expect(report.lastFrameAtMs).toBe(report.anchorMs! + report.durationMs);
  const probe = await ffprobe(report.file);
  expect(probe.format.format_name).toContain('webm');
  expect(probe.streams[0]).toMatchObject({ codec_name: 'vp8', width: 320, height: 240 });
  expect(Number(probe.streams[0]!.nb_read_frames)).toBe(frames.length);
  expect(Number(probe.format.duration)).toBeCloseTo(3, 0);
});

test('a video segment starts at a key frame; a gap in RTP time stays a gap and is reported', async () => {
  const frames = await encodedVp8Frames(join(dir, 'in2.ivf'), 4);
  const writer = new TrackSegmentWriter(join(dir, 'gap.webm'), 'video');
  // Start mid-stream at a delta frame, then skip one second (frames 60..89) after a key frame at 60.
  for (const [i, payload] of frames.entries()) {
    if (i >= 70 && i < 100) continue;
    await writer.push({ payload, rtpTimestamp: 1000 + i * 3000, receivedAtMs: i * 33 });
  }
  const report = await writer.close();
  expect(report.framesBeforeKeyFrame).toBe(0);
  expect(report.gaps).toHaveLength(1);
  expect(report.gaps[0]!.durationMs).toBeGreaterThan(900);
  expect(Number((await ffprobe(report.file)).format.duration)).toBeCloseTo(4, 0);

  const late = new TrackSegmentWriter(join(dir, 'late.webm'), 'video');
  for (const [i, payload] of frames.slice(5).entries()) await late.push({ payload, rtpTimestamp: i * 3000, receivedAtMs: i });
  const lateReport = await late.close();
  expect(lateReport.framesBeforeKeyFrame).toBe(55); // waits for the key frame at index 60 (-g 60)
});

test('Opus packets get Ogg framing with granule positions from RTP time and land in WebM unchanged', async () => {
  const packets = await encodedOpusPackets(join(dir, 'in.ogg'), 3);
  const writer = new TrackSegmentWriter(join(dir, 'audio.webm'), 'audio');
  for (const [i, payload] of packets.entries()) await writer.push({ payload, rtpTimestamp: 5000 + i * 960, receivedAtMs: i * 20 });
  const report = await writer.close();
  expect(report.framesWritten).toBe(packets.length);
  const probe = await ffprobe(report.file);
  expect(probe.streams[0]).toMatchObject({ codec_name: 'opus' });
  expect(Number(probe.format.duration)).toBeCloseTo(3, 0);
});

test('killing ffmpeg mid-track leaves a playable file that loses at most about a second', async () => {
  const frames = await encodedVp8Frames(join(dir, 'in3.ivf'), 6);
  const writer = new TrackSegmentWriter(join(dir, 'killed.webm'), 'video');
  let died = false;
  const start = Date.now();
  for (const [i, payload] of frames.entries()) {
    // Real time pacing for the last part so clusters get flushed as they would in a call.
    if (i === 150) {
      await new Promise((r) => setTimeout(r, 1200));
      process.kill(writer.writerPid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      died = writer.failed;
      break;
    }
    await writer.push({ payload, rtpTimestamp: i * 3000, receivedAtMs: start + i * 33 });
  }
  expect(died).toBe(true);
  const report = await writer.close();
  expect(report.writerError).toMatch(/ffmpeg exited/);
  expect((await stat(report.file)).size).toBeGreaterThan(0);
  expect(await reindexWebm(report.file)).toBe(true);
  const probe = await ffprobe(report.file);
  // 150 frames (5 s) were handed over before the kill; at most ~1 cluster (1 s) may be missing.
  expect(Number(probe.streams[0]!.nb_read_frames)).toBeGreaterThanOrEqual(150 - 45);
});

test('frames completed late (a retransmission) are written in RTP order; one later than the reorder window is refused', async () => {
  const frames = await encodedVp8Frames(join(dir, 'in4.ivf'), 2);
  const writer = new TrackSegmentWriter(join(dir, 'reordered.webm'), 'video');
  // Frame 10 arrives after frames 11-14 (within the window); frame 40 arrives after frame 52 (400 ms later: too late).
  const order = frames.map((_, i) => i).filter((i) => i !== 10 && i !== 40);
  order.splice(order.indexOf(14) + 1, 0, 10);
  order.splice(order.indexOf(52) + 1, 0, 40);
  for (const i of order) await writer.push({ payload: frames[i]!, rtpTimestamp: i * 3000, receivedAtMs: i * 33 });
  const report = await writer.close();
  expect(report.framesOutOfOrder).toBe(1);
  expect(report.framesWritten).toBe(frames.length - 1);
  const probe = await ffprobe(report.file);
  expect(Number(probe.streams[0]!.nb_read_frames)).toBe(frames.length - 1);
});

test('the anchor is the least-delayed frame, not the first: a late burst at the start does not shift the track', async () => {
  const packets = await encodedOpusPackets(join(dir, 'in-burst.ogg'), 2);
  const writer = new TrackSegmentWriter(join(dir, 'burst.webm'), 'audio');
  const t0 = 1_700_000_000_000;
  // Media time 0 is t0 (+10 ms of network). The first 30 packets (600 ms) reach the recorder together, 600 ms
  // after the first of them was sent; the rest arrive on time.
  for (const [i, payload] of packets.entries()) {
    const receivedAtMs = i < 30 ? t0 + 10 + 600 : t0 + 10 + i * 20;
    await writer.push({ payload, rtpTimestamp: 5000 + i * 960, receivedAtMs });
  }
  const report = await writer.close();
  expect(report.anchorMs).toBe(t0 + 10);
  expect(report.lastFrameAtMs).toBe(t0 + 10 + report.durationMs);
  expect(Math.abs(report.lastFrameAtMs! - report.anchorMs! - Number((await ffprobe(report.file)).format.duration) * 1000)).toBeLessThan(50);
});
