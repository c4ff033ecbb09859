/**
 * RTP timestamps are 32-bit and wrap (RFC 3550 §5.1): `a` is newer than `b` when it is ahead of it by
 * less than half the range.
 */
export function rtpTimestampIsNewer(a: number, b: number): boolean {
  const ahead = (a - b) >>> 0;
  return ahead !== 0 && ahead < 0x8000_0000;
}
