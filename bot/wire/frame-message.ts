/**
 * How decrypted frames leave the recorder page: one binary WebSocket message per frame, a fixed header
 * then the encoded frame exactly as the sender's encoder produced it (no base64, no JSON). Isomorphic:
 * written in the page's worker, read in Node. Control messages travel as JSON text frames (below).
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
