import type { MediaKind } from './codec-profile.js';

/**
 * The one message protocol between a call page and its media worker. The page owns MLS; the worker owns
 * SFrame. Epoch secrets cross this boundary (same origin, in memory, never logged); nothing else secret does.
 */

/** Given to `new RTCRtpScriptTransform(worker, options)` for each sender or receiver. */
export interface TransformOptions {
  side: 'send' | 'receive';
  kind: MediaKind;
  /** Page-chosen id for counting and attribution (e.g. "send:video", "feed-123:audio"). */
  streamId: string;
  /** What to do with a frame that fails to decrypt: drop it (a member) or pass the bytes on (a probe showing what an outsider gets). */
  onDecryptFailure?: 'drop' | 'pass';
}

export type PageToWorker =
  | { type: 'epoch'; epoch: bigint; ownLeafIndex: number; epochSecret: Uint8Array; rosterLeafIndices: number[] }
  /** This member was removed from the group: erase every key at once. */
  | { type: 'removed' }
  | { type: 'stats' };

export interface StreamStats {
  streamId: string;
  side: 'send' | 'receive';
  kind: MediaKind;
  frames: number;
  framesOk: number;
  /** Failures by SFrame error code (e.g. "auth-failed", "unknown-kid", "replayed", "no-key"). */
  failures: Record<string, number>;
  /** Sender leaf of the last authenticated frame: who really sent this stream (receive side). */
  senderLeafIndex?: number;
  epoch?: string;
  lastFrameAtMs?: number;
  /** Wall-clock time of the last frame sealed or opened successfully. */
  lastOkAtMs?: number;
}

export type WorkerToPage =
  | { type: 'stats'; streams: StreamStats[] }
  /** The authenticated sender of a receive stream changed or became known. */
  | { type: 'stream-sender'; streamId: string; senderLeafIndex: number }
  | { type: 'epoch-installed'; epoch: string };
