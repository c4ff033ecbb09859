import type { SegmentGap } from './mux/track-segment-writer.js';

/**
 * The recorder's account of one recording: per participant track, who (pseudonymous id from the MLS
 * credential), what (kind, codec), when (wall-clock anchors), and how complete (frames received, written,
 * decrypt failures, gaps). Written next to the files in the spool; the sealing pipeline signs it into the
 * recording's manifest. No display names: the spool holds identifiers only.
 */
export interface TrackSegmentEntry {
  /** File name relative to the recording's spool directory. */
  file: string;
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  framesReceived: number;
  framesWritten: number;
  framesBeforeKeyFrame: number;
  gaps: SegmentGap[];
  /** The page session (MLS membership) that received it; a restart after a crash starts a new one. */
  session: number;
  writerError?: string;
}

export interface TrackEntry {
  trackId: string;
  participantId: string;
  kind: 'audio' | 'video';
  codec: 'vp8' | 'opus';
  startedAtMs: number;
  endedAtMs: number;
  framesReceived: number;
  framesWritten: number;
  decryptFailures: number;
  /** Key-frame requests (PLI + FIR) the recorder's receiver sent toward this participant (getStats). */
  keyFrameRequests: number;
  gaps: SegmentGap[];
  segments: TrackSegmentEntry[];
}

export interface RecordingTrackManifest {
  version: 1;
  recordingId: string;
  roomId: string;
  startedAtMs: number;
  endedAtMs: number;
  endReason: RecordingEndReason;
  /** MLS memberships the recorder held (one per page session), with join latency. */
  sessions: Array<{ session: number; recorderId: string; joinedAtMs: number; joinMs: number; endedAtMs?: number; endedBy?: string }>;
  tracks: TrackEntry[];
  /** Frames the recorder opened but could not attribute to a participant (e.g. unknown sender). */
  unattributedFrames: number;
}

export type RecordingEndReason = 'removed-from-group' | 'stopped' | 'room-empty' | 'shutdown' | 'aborted' | 'failed';
