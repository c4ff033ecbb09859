import type { FrameKind } from './frame-message.js';

/**
 * JSON control messages on the recorder page's frame socket. Identifiers only: the roster carries
 * pseudonymous ids and credential kinds, never display names (they are PHI and the spool needs none).
 */
export interface RosterMember {
  leafIndex: number;
  id: string;
  kind: 'participant' | 'recorder';
}

export type PageControlMessage =
  /** First message: proves the socket belongs to this call's page (a per-call secret, never logged). */
  | { type: 'hello'; callSecret: string }
  /** The MLS roster of an epoch (the KID carries the epoch's low bits; attribution is per epoch). */
  | { type: 'roster'; epoch: string; epochBits: number; members: RosterMember[] }
  | { type: 'stream-start'; streamNumber: number; kind: FrameKind; codec: 'vp8' | 'opus'; feedId: string }
  | { type: 'stream-end'; streamNumber: number }
  /** Frames the worker saw but could not hand over (counted per stream and reason). */
  | {
      type: 'stream-stats';
      streamNumber: number;
      failures: Record<string, number>;
      framesDecrypted: number;
      /** Frames the sender sealed from the first to the last frame the stream opened (SFrame CTR span). */
      framesSealed?: number;
    }
  /**
   * Receiver figures from getStats (cumulative): key-frame requests this receiver sent (PLI/FIR), RTP
   * packets received and lost, and for video what Chromium's decoder was given (frames and their size).
   */
  | {
      type: 'stream-rtp';
      streamNumber: number;
      pliCount: number;
      firCount: number;
      packetsReceived?: number;
      packetsLost?: number;
      framesDecoded?: number;
      frameWidth?: number;
      frameHeight?: number;
    }
  /** The recorder was removed from the MLS group: it holds no key for the new epoch. */
  | { type: 'removed'; epoch: string }
  | { type: 'joined'; epoch: string; ownLeafIndex: number }
  | { type: 'error'; code: string; message: string };

export function parsePageControlMessage(text: string): PageControlMessage | undefined {
  try {
    const value = JSON.parse(text) as { type?: unknown };
    if (typeof value !== 'object' || value === null || typeof value.type !== 'string') return undefined;
    return value as PageControlMessage;
  } catch {
    return undefined;
  }
}
