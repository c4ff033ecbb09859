import type { PageControlMessage } from '../wire/control-message.js';

/**
 * Page ↔ recorder worker messages, one union. The page owns MLS and the SFU; the worker owns SFrame and
 * the frame socket to the recorder process (so control messages and frames share one ordered channel).
 */
export type RecorderPageToWorker =
  | { type: 'connect'; frameSinkUrl: string; callSecret: string }
  | { type: 'epoch'; epoch: bigint; ownLeafIndex: number; epochSecret: Uint8Array; rosterLeafIndices: number[] }
  | { type: 'removed' }
  /** The recording is finishing: send the frames still batched and final counts, then no more frames. */
  | { type: 'finish' }
  /** Forwarded to the recorder process as is. */
  | { type: 'control'; message: PageControlMessage };

export type RecorderWorkerToPage = { type: 'sink-open' } | { type: 'sink-closed' };

/** Options of each receive transform (RTCRtpScriptTransform). */
export interface RecorderTransformOptions {
  streamNumber: number;
  kind: 'audio' | 'video';
}

export interface RecorderConfig {
  /** The key service's MLS delivery endpoint (ws://…). */
  deliveryUrl: string;
  sfuUrl: string;
  sfuRoom: number;
  /** The recorder's service token, presented to the delivery service. */
  token: string;
  /** The recorder credential the key service issued for this page's signature key (base64 identity bytes). */
  credential: string;
  frameSinkUrl: string;
  callSecret: string;
  workerUrl?: string;
}

export interface RecorderPageApi {
  /**
   * Generates this page's MLS signature key pair and returns the public key (base64), for the key service
   * to issue a recorder credential bound to it. The private key never leaves the page.
   */
  createSignatureKey(): Promise<string>;
  start(config: RecorderConfig): Promise<{ epoch: string; ownLeafIndex: number }>;
  /** Sends the frames still batched and stops sending, then leaves the MLS group deliberately (finishing, not crashing). */
  leave(): void;
}
