import { FfmpegTrackWriter, type TrackWriterError } from './ffmpeg-track-writer.js';
import { ivfFileHeader, ivfFrameHeader, VIDEO_CLOCK_HZ, vp8KeyFrameSize } from './ivf.js';
import { OggOpusWriter, OPUS_CLOCK_HZ, opusPacketChannels, opusPacketSamples } from './ogg-opus.js';
import { RtpClock } from './rtp-clock.js';
import type { FrameKind } from '../wire/frame-message.js';

/**
 * Writes one segment of one participant's track: frames in RTP order go to an ffmpeg stream copy, with
 * timestamps from the RTP clock (so gaps stay gaps) and a wall-clock anchor for the segment's media time 0
 * (so tracks of one recording line up). A video segment starts at a key frame.
 */

export interface SegmentFrame {
  payload: Uint8Array;
  rtpTimestamp: number;
  receivedAtMs: number;
}

export interface SegmentGap {
  /** Media time (ms from the segment's start) where the gap begins. */
  atMs: number;
  durationMs: number;
}

export interface SegmentReport {
  file: string;
  kind: FrameKind;
  codec: 'vp8' | 'opus';
  /**
   * Wall clock (ms since the Unix epoch) of the segment's media time 0, its first received frame: the
   * alignment anchor. See ANCHOR_WINDOW_MS for how it is estimated.
   */
  anchorMs: number | undefined;
  /** Wall clock where the written media ends, on the same timeline: anchorMs + durationMs. */
  lastFrameAtMs: number | undefined;
  /** Media duration covered by RTP time, ms. */
  durationMs: number;
  framesReceived: number;
  framesWritten: number;
  /** Video frames dropped because the segment had not yet seen a key frame. */
  framesBeforeKeyFrame: number;
  /** Frames not monotonic in RTP time (duplicates or very late), dropped. */
  framesOutOfOrder: number;
  gaps: SegmentGap[];
  /** Set when ffmpeg died while writing; the file holds what was flushed. */
  writerError?: string;
}

/**
 * How long (in media time) a frame waits for older ones before it is written. Chromium hands a frame to
 * the receive transform when its last packet arrives, so a frame completed by a retransmission (NACK)
 * comes after newer ones; a muxer needs them in order. Adds to what a crash may lose (with the page's
 * 200 ms batch and ffmpeg's 1 s cluster, still under the 2 s allowed).
 */
export const REORDER_WINDOW_MS = 300;

/**
 * The anchor is the earliest `receivedAtMs − media time` over the frames of the segment's first
 * ANCHOR_WINDOW_MS of media, not just the first frame's receipt time. Every frame reaches the recorder
 * some delay after its media time; the least-delayed frame is the best estimate of the delay the network
 * alone adds. The first frames are often the most delayed of all: the receive transform starts while the
 * page is still busy (keys being imported, a loaded machine), and they arrive in a burst half a second
 * late, which would otherwise shift the whole track that much against the others. Limited to the first
 * 30 s so that drift between the sender's RTP clock and this machine's clock (tens of ppm) cannot move it.
 */
const ANCHOR_WINDOW_MS = 30_000;

/** An interval in media time longer than this (and than twice the packet length) is recorded as a gap. */
const VIDEO_GAP_MS = 500;
const AUDIO_GAP_MS = 200;
const MAX_GAPS_LISTED = 1000;

export class TrackSegmentWriter {
  private writer: FfmpegTrackWriter | undefined;
  private readonly clock = new RtpClock();
  private ogg: OggOpusWriter | undefined;
  private lastTicks = -1n;
  private lastEndTicks = 0n;
  /** Accepted frames not yet written, in RTP order (the reorder window). */
  private readonly pending: Array<{ ticks: bigint; frame: SegmentFrame }> = [];
  private newestTicks = -1n;
  /** Ticks of the key frame the segment starts with: nothing older can be written. */
  private startTicks = 0n;
  private writerError: TrackWriterError | undefined;
  private readonly report: SegmentReport;

  constructor(
    readonly file: string,
    readonly kind: FrameKind,
    private readonly onWriterDied?: (error: TrackWriterError) => void,
  ) {
    this.report = {
      file,
      kind,
      codec: kind === 'video' ? 'vp8' : 'opus',
      anchorMs: undefined,
      lastFrameAtMs: undefined,
      durationMs: 0,
      framesReceived: 0,
      framesWritten: 0,
      framesBeforeKeyFrame: 0,
      framesOutOfOrder: 0,
      gaps: [],
    };
  }

  get started(): boolean {
    return this.writer !== undefined;
  }

  get failed(): boolean {
    return this.writerError !== undefined;
  }

  /**
   * Takes a frame into the segment: it is written, in RTP order, once frames REORDER_WINDOW_MS newer have
   * arrived (or at close). Returns false when the frame was refused: waiting for a key frame, a duplicate,
   * older than what was already written, or the writer is dead.
   */
  async push(frame: SegmentFrame): Promise<boolean> {
    this.report.framesReceived++;
    if (this.writerError) return false;
    // The segment's time starts at its first received frame, written or not (see ffmpeg -copyts).
    const ticks = this.clock.unwrap(frame.rtpTimestamp);
    const mediaMs = Number(ticks * 1000n) / this.clockHz;
    if (mediaMs <= ANCHOR_WINDOW_MS) {
      const anchor = frame.receivedAtMs - mediaMs;
      if (this.report.anchorMs === undefined || anchor < this.report.anchorMs) {
        this.report.anchorMs = anchor;
        if (this.report.framesWritten > 0) this.report.lastFrameAtMs = anchor + this.report.durationMs;
      }
    }
    if (!this.writer) {
      if (!(await this.start(frame))) return false;
      this.startTicks = ticks;
    }
    if (ticks < this.startTicks || ticks <= this.lastTicks || this.pending.some((p) => p.ticks === ticks)) {
      this.report.framesOutOfOrder++;
      return false;
    }
    let at = this.pending.length;
    while (at > 0 && this.pending[at - 1]!.ticks > ticks) at--;
    this.pending.splice(at, 0, { ticks, frame });
    if (ticks > this.newestTicks) this.newestTicks = ticks;
    const windowTicks = BigInt(Math.round((REORDER_WINDOW_MS * this.clockHz) / 1000));
    while (this.pending.length > 0 && this.pending[0]!.ticks <= this.newestTicks - windowTicks) {
      const next = this.pending.shift()!;
      await this.write(next.ticks, next.frame);
    }
    return true;
  }

  private get clockHz(): number {
    return this.kind === 'video' ? VIDEO_CLOCK_HZ : OPUS_CLOCK_HZ;
  }

  /** Writes one frame (in RTP order); false if the writer failed. */
  private async write(ticks: bigint, frame: SegmentFrame): Promise<boolean> {
    if (this.writerError) return false;
    const clockHz = this.clockHz;
    {
      const gapTicks = ticks - this.lastEndTicks;
      const gapMs = Number(gapTicks * 1000n) / clockHz;
      const threshold = this.kind === 'video' ? VIDEO_GAP_MS : AUDIO_GAP_MS;
      if (gapMs > threshold && this.report.gaps.length < MAX_GAPS_LISTED) {
        this.report.gaps.push({ atMs: Math.round(Number(this.lastEndTicks * 1000n) / clockHz), durationMs: Math.round(gapMs) });
      }
    }
    let bytes: Uint8Array[];
    let endTicks: bigint;
    if (this.kind === 'video') {
      bytes = [ivfFrameHeader(frame.payload.length, ticks), frame.payload];
      endTicks = ticks;
    } else {
      endTicks = ticks + BigInt(opusPacketSamples(frame.payload));
      bytes = [this.ogg!.packet(frame.payload, endTicks)];
    }
    try {
      for (const chunk of bytes) await this.writer!.write(chunk);
    } catch {
      return false;
    }
    this.lastTicks = ticks;
    this.lastEndTicks = endTicks;
    this.report.framesWritten++;
    this.report.durationMs = Math.round(Number(endTicks * 1000n) / clockHz);
    this.report.lastFrameAtMs = this.report.anchorMs! + this.report.durationMs;
    return true;
  }

  private async start(frame: SegmentFrame): Promise<boolean> {
    if (this.kind === 'video') {
      const size = vp8KeyFrameSize(frame.payload);
      if (!size) {
        this.report.framesBeforeKeyFrame++;
        return false;
      }
      this.writer = this.spawn('ivf');
      await this.writer.write(ivfFileHeader(size.width, size.height));
    } else {
      this.writer = this.spawn('ogg');
      this.ogg = new OggOpusWriter();
      for (const page of this.ogg.headers(opusPacketChannels(frame.payload))) await this.writer.write(page);
    }
    return true;
  }

  private spawn(format: 'ivf' | 'ogg'): FfmpegTrackWriter {
    const writer = new FfmpegTrackWriter(this.file, format);
    writer.onUnexpectedExit((error) => {
      this.writerError = error;
      this.report.writerError = error.message;
      this.onWriterDied?.(error);
    });
    return writer;
  }

  /** Ends the segment: the frames still in the reorder window are written, then ffmpeg writes the index. */
  async close(): Promise<SegmentReport> {
    while (this.pending.length > 0) {
      const next = this.pending.shift()!;
      await this.write(next.ticks, next.frame);
    }
    if (this.writer && !this.writerError) {
      try {
        await this.writer.close();
      } catch (error) {
        this.report.writerError = (error as Error).message;
      }
    }
    return { ...this.report, gaps: [...this.report.gaps] };
  }

  /** Kills ffmpeg without finalizing (abort, SIGINT). */
  abort(): void {
    this.writer?.kill();
  }

  get writerPid(): number | undefined {
    return this.writer?.pid;
  }
}
