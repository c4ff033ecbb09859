import { mkdir, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { TrackSegmentWriter, type SegmentReport } from './mux/track-segment-writer.js';
import { reindexWebm } from './mux/ffmpeg-track-writer.js';
import type { FrameMessage, FrameKind } from './wire/frame-message.js';
import type { PageControlMessage, RosterMember } from './wire/control-message.js';
import type { FrameSinkConnection, FrameSinkHandler } from './frame-sink-server.js';
import type { RecordingEndReason, RecordingTrackManifest, TrackEntry } from './track-manifest.js';
import type { FrameCounters } from './recorder-metrics.js';

/**
 * One recording's files in the spool: frames from the recorder page(s) are attributed to a participant by
 * the MLS roster of the epoch named in their KID (sender leaf → credential id), never by SFU labels, and
 * written to that participant's track. A track is one file per segment: a segment ends when the
 * participant's stream ends, when ffmpeg dies, or when the page session ends (crash → new membership,
 * new files of the same recording).
 */

export const MANIFEST_FILE = 'recording-manifest.json';
const ROSTER_EPOCHS_KEPT = 8;

interface TrackState {
  entry: TrackEntry;
  index: number;
  writer: TrackSegmentWriter | undefined;
  writerSession: number;
  /** Page stream feeding the open segment, so its end closes the segment. */
  streamKey: string | undefined;
  segmentCount: number;
}

interface StreamState {
  kind: FrameKind;
  trackKey: string | undefined;
  decryptFailures: number;
  /** The page's cumulative failure counts by reason (metrics take the increase). */
  failuresByReason: Record<string, number>;
  keyFrameRequests: number;
  /** The page's latest figures for the stream (cumulative), for the session's closing log line. */
  figures: StreamFigures;
}

/** What one receive stream of a page session got, from the page's worker and getStats; counts only. */
export interface StreamFigures {
  framesDecrypted?: number;
  /** Frames the sender sealed from the first to the last frame the stream opened (SFrame CTRs). */
  framesSealed?: number;
  /** Frames the page's worker could not open or hand over, by reason (SFrame error codes, sink-closed). */
  failures?: Record<string, number>;
  packetsReceived?: number;
  packetsLost?: number;
  framesDecoded?: number;
  frameWidth?: number;
  frameHeight?: number;
  /** Key-frame requests the receiver sent (PLI, FIR: Chromium's own and the worker's). */
  pliCount?: number;
  firCount?: number;
}

export class CallRecording {
  readonly dir: string;
  private readonly tracks = new Map<string, TrackState>();
  private readonly streams = new Map<string, StreamState>();
  private readonly rosters = new Map<number, Map<number, RosterMember>>();
  private readonly sessions: RecordingTrackManifest['sessions'] = [];
  private unattributedFrames = 0;
  private readonly startedAtMs = Date.now();
  private closed = false;

  constructor(
    spoolDir: string,
    readonly recordingId: string,
    readonly roomId: string,
    private readonly counters?: FrameCounters,
  ) {
    this.dir = join(spoolDir, recordingId);
  }

  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Handler for one page session's frame socket. */
  sessionHandler(session: number, connection: FrameSinkConnection, events: { onControl(message: PageControlMessage): void; onClose(): void }): FrameSinkHandler {
    return {
      onFrame: (frame) => this.onFrame(session, frame, connection),
      onControl: async (message) => {
        await this.onControl(session, message);
        events.onControl(message);
      },
      onClose: () => events.onClose(),
      onBadMessage: () => {
        this.counters?.failed('bad-message');
        this.unattributedFrames++;
      },
    };
  }

  sessionJoined(session: number, recorderId: string, joinedAtMs: number, joinMs: number): void {
    this.sessions.push({ session, recorderId, joinedAtMs, joinMs });
  }

  /** Closes the segments a page session was writing (its membership ended). */
  async endSession(session: number, endedBy: string): Promise<void> {
    const record = this.sessions.find((s) => s.session === session);
    if (record && record.endedAtMs === undefined) {
      record.endedAtMs = Date.now();
      record.endedBy = endedBy;
    }
    await Promise.all([...this.tracks.values()].filter((t) => t.writer && t.writerSession === session).map((t) => this.closeSegment(t)));
  }

  private async onControl(session: number, message: PageControlMessage): Promise<void> {
    switch (message.type) {
      case 'roster': {
        const members = new Map<number, RosterMember>();
        for (const member of Array.isArray(message.members) ? message.members : []) {
          if (typeof member?.leafIndex === 'number' && typeof member.id === 'string') members.set(member.leafIndex, member);
        }
        this.rosters.delete(message.epochBits);
        this.rosters.set(message.epochBits, members);
        while (this.rosters.size > ROSTER_EPOCHS_KEPT) this.rosters.delete(this.rosters.keys().next().value!);
        break;
      }
      case 'stream-start':
        if (message.kind === 'audio' || message.kind === 'video') {
          this.streams.set(`${session}:${message.streamNumber}`, { kind: message.kind, trackKey: undefined, decryptFailures: 0, failuresByReason: {}, keyFrameRequests: 0, figures: {} });
        }
        break;
      case 'stream-end': {
        const stream = this.streams.get(`${session}:${message.streamNumber}`);
        const track = stream?.trackKey ? this.tracks.get(stream.trackKey) : undefined;
        if (track && track.streamKey === `${session}:${message.streamNumber}`) await this.closeSegment(track);
        break;
      }
      case 'stream-rtp': {
        const stream = this.streams.get(`${session}:${message.streamNumber}`);
        const requests = (Number(message.pliCount) || 0) + (Number(message.firCount) || 0);
        if (stream) {
          for (const key of ['packetsReceived', 'packetsLost', 'framesDecoded', 'frameWidth', 'frameHeight', 'pliCount', 'firCount'] as const) {
            const value = message[key];
            if (typeof value === 'number' && Number.isFinite(value)) stream.figures[key] = value;
          }
        }
        if (stream && requests > stream.keyFrameRequests) {
          const track = stream.trackKey ? this.tracks.get(stream.trackKey) : undefined;
          if (track) track.entry.keyFrameRequests += requests - stream.keyFrameRequests;
          stream.keyFrameRequests = requests;
        }
        break;
      }
      case 'stream-stats': {
        const stream = this.streams.get(`${session}:${message.streamNumber}`);
        if (stream) {
          stream.figures.failures = { ...message.failures };
          for (const key of ['framesDecrypted', 'framesSealed'] as const) {
            const value = message[key];
            if (typeof value === 'number' && Number.isFinite(value)) stream.figures[key] = value;
          }
          const failures = Object.values(message.failures ?? {}).reduce((sum, n) => sum + (Number(n) || 0), 0);
          const delta = failures - stream.decryptFailures;
          stream.decryptFailures = failures;
          const track = stream.trackKey ? this.tracks.get(stream.trackKey) : undefined;
          if (track && delta > 0) track.entry.decryptFailures += delta;
          for (const [reason, count] of Object.entries(message.failures ?? {})) {
            const increase = (Number(count) || 0) - (stream.failuresByReason[reason] ?? 0);
            if (increase > 0) {
              stream.failuresByReason[reason] = Number(count);
              this.counters?.failed(reason, increase);
            }
          }
        }
        break;
      }
    }
  }

  /** Per receive stream of a page session: kind, the track it fed, and the page's figures. */
  streamFigures(session: number): Array<{ streamNumber: number; kind: FrameKind; trackId?: string } & StreamFigures> {
    const prefix = `${session}:`;
    return [...this.streams]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, stream]) => {
        const trackId = stream.trackKey ? this.tracks.get(stream.trackKey)?.entry.trackId : undefined;
        return { streamNumber: Number(key.slice(prefix.length)), kind: stream.kind, ...(trackId ? { trackId } : {}), ...stream.figures };
      });
  }

  private async onFrame(session: number, frame: FrameMessage, connection: FrameSinkConnection): Promise<void> {
    this.counters?.decrypted(frame.kind);
    if (this.closed) return;
    const member = this.rosters.get(frame.epochBits)?.get(frame.senderLeafIndex);
    if (!member || member.kind !== 'participant') {
      this.counters?.failed('unattributed');
      this.unattributedFrames++;
      return;
    }
    const streamKey = `${session}:${frame.streamNumber}`;
    const stream = this.streams.get(streamKey);
    const trackKey = `${member.id}\u0000${frame.kind}`;
    if (stream) stream.trackKey = trackKey;
    let track = this.tracks.get(trackKey);
    if (!track) {
      const index = this.tracks.size + 1;
      track = {
        index,
        writer: undefined,
        writerSession: session,
        streamKey: undefined,
        segmentCount: 0,
        entry: {
          trackId: `t${String(index).padStart(2, '0')}-${frame.kind}`,
          participantId: member.id,
          kind: frame.kind,
          codec: frame.kind === 'video' ? 'vp8' : 'opus',
          startedAtMs: frame.receivedAtMs,
          endedAtMs: frame.receivedAtMs,
          framesReceived: 0,
          framesWritten: 0,
          decryptFailures: 0,
          keyFrameRequests: 0,
          gaps: [],
          segments: [],
        },
      };
      this.tracks.set(trackKey, track);
    }
    if (track.writer && (track.writer.failed || track.streamKey !== streamKey)) {
      // ffmpeg died, or the participant's media now arrives on another stream: new segment.
      await this.closeSegment(track);
    }
    if (!track.writer) {
      track.segmentCount++;
      const file = `${track.entry.trackId}-s${String(track.segmentCount).padStart(2, '0')}.webm`;
      track.writer = new TrackSegmentWriter(join(this.dir, file), frame.kind);
      track.writerSession = session;
      track.streamKey = streamKey;
      if (frame.kind === 'video' && !frame.keyFrame) connection.send({ type: 'request-key-frame', streamNumber: frame.streamNumber, refusedRtpTimestamp: frame.rtpTimestamp });
    }
    const written = await track.writer.push({ payload: frame.payload, rtpTimestamp: frame.rtpTimestamp, receivedAtMs: frame.receivedAtMs });
    if (!written && frame.kind === 'video' && !track.writer.started) {
      connection.send({ type: 'request-key-frame', streamNumber: frame.streamNumber, refusedRtpTimestamp: frame.rtpTimestamp });
    }
  }

  private async closeSegment(track: TrackState): Promise<void> {
    const writer = track.writer;
    if (!writer) return;
    track.writer = undefined;
    track.streamKey = undefined;
    const report = await writer.close();
    await this.addSegment(track, report, track.writerSession);
  }

  private async addSegment(track: TrackState, report: SegmentReport, session: number): Promise<void> {
    track.entry.framesReceived += report.framesReceived;
    if (report.framesWritten === 0) return; // never started (no key frame): no file
    if (report.writerError) await reindexWebm(report.file);
    const start = report.anchorMs ?? Date.now();
    const end = report.lastFrameAtMs ?? start;
    const gapOffset = track.entry.segments.length === 0 ? 0 : Math.max(0, start - track.entry.startedAtMs);
    track.entry.segments.push({
      file: report.file.slice(this.dir.length + 1),
      startedAtMs: start,
      endedAtMs: end,
      durationMs: report.durationMs,
      framesReceived: report.framesReceived,
      framesWritten: report.framesWritten,
      framesBeforeKeyFrame: report.framesBeforeKeyFrame,
      gaps: report.gaps,
      session,
      ...(report.writerError ? { writerError: report.writerError } : {}),
    });
    track.entry.framesWritten += report.framesWritten;
    track.entry.gaps.push(...report.gaps.map((gap) => ({ atMs: gap.atMs + gapOffset, durationMs: gap.durationMs })));
    if (track.entry.segments.length === 1) track.entry.startedAtMs = start;
    track.entry.endedAtMs = Math.max(track.entry.endedAtMs, end);
  }

  /** Closes every open segment, indexes the files and writes the track manifest. */
  async finalize(endReason: RecordingEndReason): Promise<RecordingTrackManifest> {
    this.closed = true;
    await Promise.all([...this.tracks.values()].map((track) => this.closeSegment(track)));
    const tracks = [...this.tracks.values()].map((t) => t.entry).filter((entry) => entry.segments.length > 0);
    // Gaps between segments of one track (e.g. a recorder restart) are gaps too.
    for (const entry of tracks) {
      entry.segments.sort((a, b) => a.startedAtMs - b.startedAtMs);
      for (let i = 1; i < entry.segments.length; i++) {
        const between = entry.segments[i]!.startedAtMs - entry.segments[i - 1]!.endedAtMs;
        if (between > 500) entry.gaps.push({ atMs: entry.segments[i - 1]!.endedAtMs - entry.startedAtMs, durationMs: between });
      }
    }
    const manifest: RecordingTrackManifest = {
      version: 1,
      recordingId: this.recordingId,
      roomId: this.roomId,
      startedAtMs: this.startedAtMs,
      endedAtMs: Date.now(),
      endReason,
      sessions: this.sessions,
      tracks,
      unattributedFrames: this.unattributedFrames,
    };
    const path = join(this.dir, MANIFEST_FILE);
    await writeFile(`${path}.part`, JSON.stringify(manifest, null, 2), { mode: 0o600 });
    await rename(`${path}.part`, path);
    return manifest;
  }

  /** Kills every ffmpeg at once (SIGINT): files keep what was flushed. */
  abort(): void {
    this.closed = true;
    for (const track of this.tracks.values()) track.writer?.abort();
  }
}
