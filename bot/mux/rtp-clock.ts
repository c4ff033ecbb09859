/**
 * Unwraps 32-bit RTP timestamps (RFC 3550 §5.1: they wrap) into a monotonic 64-bit count relative to the
 * stream's first frame. Each timestamp is placed at the signed 32-bit distance from the newest one seen,
 * so a wrap moves forward and a late (reordered) frame lands just before, never 2^32 ticks away.
 */
export class RtpClock {
  private origin: bigint | undefined;
  private newest = 0n;

  /** Ticks since the first timestamp seen (negative only for a frame older than the first). */
  unwrap(rtpTimestamp: number): bigint {
    const ts = rtpTimestamp >>> 0;
    if (this.origin === undefined) {
      this.origin = BigInt(ts);
      this.newest = this.origin;
      return 0n;
    }
    const newestLow = Number(this.newest & 0xffff_ffffn);
    const distance = (ts - newestLow) | 0; // signed 32-bit
    const extended = this.newest + BigInt(distance);
    if (extended > this.newest) this.newest = extended;
    return extended - this.origin;
  }
}
