import type { SegmentGap } from './mux/track-segment-writer.js';
import type { SpooledSegment, SpooledTrack } from '../queue/index.js';

/**
 * The recorder's account of one recording: per participant track, who (pseudonymous id from the MLS
 * credential), what (kind, codec), when (wall-clock anchors), and how complete (frames received, written,
 * decrypt failures, gaps). Written next to the files in the spool; the sealing pipeline signs it into the
 * recording's manifest. No display names: the spool holds identifiers only.
 */
/**
 * A segment and a track as the recorder writes them: the sealing pipeline's spool contract
 * (queue/seal-request.ts) is the one definition; the recorder fills in what it always knows.
 */
export type TrackSegmentEntry = Omit<SpooledSegment, 'gaps' | 'session' | 'framesBeforeKeyFrame'> & {
  gaps: SegmentGap[];
  /** The page session (MLS membership) that received it; a restart after a crash starts a new one. */
  session: number;
  framesBeforeKeyFrame: number;
};

export type TrackEntry = Omit<SpooledTrack, 'gaps' | 'segments'> & {
  gaps: SegmentGap[];
  segments: TrackSegmentEntry[];
  /** Key-frame requests (PLI + FIR) the recorder's receiver sent toward this participant (getStats). */
  keyFrameRequests: number;
};

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
