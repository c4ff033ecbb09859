/**
 * IVF, the minimal VP8 container ffmpeg reads from a pipe: a 32-byte file header, then per frame a
 * 12-byte header (payload size, 64-bit timestamp) and the frame. We hand ffmpeg the encoded frames with
 * their RTP-derived timestamps and it stream-copies them into WebM.
 */

/** RTP video clock (RFC 7741 §4.1: VP8 uses a 90 kHz clock): IVF timestamps count these ticks. */
export const VIDEO_CLOCK_HZ = 90_000;

export function ivfFileHeader(width: number, height: number): Uint8Array {
  const header = new Uint8Array(32);
  const view = new DataView(header.buffer);
  header.set([0x44, 0x4b, 0x49, 0x46], 0); // "DKIF"
  view.setUint16(4, 0, true); // version
  view.setUint16(6, 32, true); // header size
  header.set([0x56, 0x50, 0x38, 0x30], 8); // "VP80"
  view.setUint16(12, width, true);
  view.setUint16(14, height, true);
  view.setUint32(16, VIDEO_CLOCK_HZ, true); // time base denominator
  view.setUint32(20, 1, true); // time base numerator
  view.setUint32(24, 0, true); // frame count: unknown while streaming
  return header;
}

export function ivfFrameHeader(payloadLength: number, timestamp: bigint): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setUint32(0, payloadLength, true);
  view.setBigUint64(4, timestamp, true);
  return header;
}

/** Width and height from a VP8 key frame (RFC 6386 §9.1: 3-byte tag, start code 9d 01 2a, 14-bit sizes). */
export function vp8KeyFrameSize(frame: Uint8Array): { width: number; height: number } | undefined {
  if (frame.length < 10 || (frame[0]! & 1) !== 0) return undefined;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  const width = (frame[6]! | (frame[7]! << 8)) & 0x3fff;
  const height = (frame[8]! | (frame[9]! << 8)) & 0x3fff;
  return { width, height };
}

export function isVp8KeyFrame(frame: Uint8Array): boolean {
  return vp8KeyFrameSize(frame) !== undefined;
}
