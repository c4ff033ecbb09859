/**
 * How decrypted frames leave the recorder page: binary WebSocket messages, each a batch of one or more
 * frame records back to back; a record is a fixed header then the encoded frame exactly as the sender's
 * encoder produced it (no base64, no JSON). Batching (FrameBatchWriter) exists for CPU: per message, the
 * worker, Chromium's network service, the ws parser and the ffmpeg pipe each pay a fixed cost, and a
 * call's ~160 frames a second cost more in messages than in bytes. Isomorphic: written in the page's
 * worker, read in Node. Control messages travel as JSON text frames (control-message.ts).
 *
 *   offset size field
 *   0      1    version (1)
 *   1      1    kind: 0 audio (Opus), 1 video (VP8)
 *   2      1    flags: bit 0 = key frame
 *   3      1    KID epoch bits (RFC 9605 §5.2: the low E bits of the MLS epoch the frame was sealed in)
 *   4      4    stream number (assigned by the page per receive stream)
 *   8      4    RTP timestamp (90 kHz video, 48 kHz Opus)
 *   12     4    sender MLS leaf index (from the KID: who sealed the frame)
 *   16     8    receive time, ms since the Unix epoch (float64)
 *   24     4    payload length
 *   28     …    payload
 * All integers big-endian.
 */


export const FRAME_MESSAGE_VERSION = 1;
export const FRAME_HEADER_BYTES = 28;

export type FrameKind = 'audio' | 'video';

export interface FrameMessage {
  kind: FrameKind;
  keyFrame: boolean;
  epochBits: number;
  streamNumber: number;
  rtpTimestamp: number;
  senderLeafIndex: number;
  receivedAtMs: number;
  payload: Uint8Array;
}

export type FrameMessageError = { code: 'truncated' | 'bad-version' | 'bad-kind' | 'bad-length'; detail: string };

export function encodeFrameMessage(frame: FrameMessage): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + frame.payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME_MESSAGE_VERSION);
  view.setUint8(1, frame.kind === 'video' ? 1 : 0);
  view.setUint8(2, frame.keyFrame ? 1 : 0);
  view.setUint8(3, frame.epochBits & 0xff);
  view.setUint32(4, frame.streamNumber >>> 0);
  view.setUint32(8, frame.rtpTimestamp >>> 0);
  view.setUint32(12, frame.senderLeafIndex >>> 0);
  view.setFloat64(16, frame.receivedAtMs);
  view.setUint32(24, frame.payload.length);
  out.set(frame.payload, FRAME_HEADER_BYTES);
  return out;
}

export function decodeFrameMessage(bytes: Uint8Array): { ok: true; value: FrameMessage } | { ok: false; error: FrameMessageError } {
  if (bytes.length < FRAME_HEADER_BYTES) return { ok: false, error: { code: 'truncated', detail: `frame message of ${bytes.length} bytes` } };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== FRAME_MESSAGE_VERSION) return { ok: false, error: { code: 'bad-version', detail: `version ${view.getUint8(0)}` } };
  const kindByte = view.getUint8(1);
  if (kindByte > 1) return { ok: false, error: { code: 'bad-kind', detail: `kind ${kindByte}` } };
  const length = view.getUint32(24);
  if (length !== bytes.length - FRAME_HEADER_BYTES) return { ok: false, error: { code: 'bad-length', detail: `payload length ${length} in a ${bytes.length}-byte message` } };
  return {
    ok: true,
    value: {
      kind: kindByte === 1 ? 'video' : 'audio',
      keyFrame: (view.getUint8(2) & 1) === 1,
      epochBits: view.getUint8(3),
      streamNumber: view.getUint32(4),
      rtpTimestamp: view.getUint32(8),
      senderLeafIndex: view.getUint32(12),
      receivedAtMs: view.getFloat64(16),
      payload: bytes.subarray(FRAME_HEADER_BYTES),
    },
  };
}

/**
 * Writes frame records back to back into one reusable buffer (one copy of each payload). `take()` hands
 * out the batch as a view of that buffer, valid until the next `add()`: send it (WebSocket.send copies)
 * before adding more.
 */
export class FrameBatchWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;
  frames = 0;

  constructor(initialBytes = 256 * 1024) {
    this.buffer = new Uint8Array(initialBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  add(frame: FrameMessage): void {
    const needed = this.length + FRAME_HEADER_BYTES + frame.payload.length;
    if (needed > this.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    const view = this.view;
    view.setUint8(at, FRAME_MESSAGE_VERSION);
    view.setUint8(at + 1, frame.kind === 'video' ? 1 : 0);
    view.setUint8(at + 2, frame.keyFrame ? 1 : 0);
    view.setUint8(at + 3, frame.epochBits & 0xff);
    view.setUint32(at + 4, frame.streamNumber >>> 0);
    view.setUint32(at + 8, frame.rtpTimestamp >>> 0);
    view.setUint32(at + 12, frame.senderLeafIndex >>> 0);
    view.setFloat64(at + 16, frame.receivedAtMs);
    view.setUint32(at + 24, frame.payload.length);
    this.buffer.set(frame.payload, at + FRAME_HEADER_BYTES);
    this.length = needed;
    this.frames++;
  }

  /** The batch so far (a view, valid until the next add), and a fresh start. */
  take(): Uint8Array {
    const batch = this.buffer.subarray(0, this.length);
    this.length = 0;
    this.frames = 0;
    return batch;
  }
}

/**
 * Reads every frame record of one message. On a malformed record it stops and returns the error with
 * the records read before it (a record's length field is the only way to find the next one).
 */
export function decodeFrameBatch(bytes: Uint8Array): { frames: FrameMessage[]; error?: FrameMessageError } {
  const frames: FrameMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < FRAME_HEADER_BYTES) return { frames, error: { code: 'truncated', detail: `record of ${bytes.length - at} bytes` } };
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER_BYTES).getUint32(24);
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > bytes.length) return { frames, error: { code: 'bad-length', detail: `payload length ${length} past the end of a ${bytes.length}-byte message` } };
    const decoded = decodeFrameMessage(bytes.subarray(at, end));
    if (!decoded.ok) return { frames, error: decoded.error };
    frames.push(decoded.value);
    at = end;
  }
  return { frames };
}
