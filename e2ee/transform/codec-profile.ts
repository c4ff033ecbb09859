/**
 * Which leading bytes of an encoded frame stay in the clear as SFrame metadata (ARCHITECTURE.md, wire
 * profile; RFC 9605 §4.4.3 authenticates metadata as part of the AAD, so it cannot be altered).
 *
 * VP8 (RFC 6386 §9.1): the frame tag's first bit is 0 for a key frame. A key frame keeps its 3-byte tag,
 * 3-byte start code and 4-byte dimensions (10 bytes) in the clear, a delta frame its first byte: the
 * receiving depacketizer and an SFU can still tell key frames from delta frames, and Chromium's receiver
 * does not mistake encrypted delta frames for key frames (harness.md).
 * Opus: nothing stays in the clear.
 */

export type MediaKind = 'audio' | 'video';

export const VP8_KEY_FRAME_CLEAR_BYTES = 10;
export const VP8_DELTA_FRAME_CLEAR_BYTES = 1;

export function isVp8KeyFrame(firstByte: number): boolean {
  return (firstByte & 0x01) === 0;
}

/** Number of bytes at the start of `frame` that are sent unencrypted for this kind of media. */
export function clearPrefixLength(kind: MediaKind, frame: Uint8Array): number {
  if (kind === 'audio' || frame.length === 0) return 0;
  const wanted = isVp8KeyFrame(frame[0]!) ? VP8_KEY_FRAME_CLEAR_BYTES : VP8_DELTA_FRAME_CLEAR_BYTES;
  return Math.min(wanted, frame.length);
}
