// Anti-replay for one KID. RFC 9605 §7.4 leaves replay handling to the application; this is the usual
// sliding window (as in RFC 4303 §3.4.3 / RFC 6479): remember the highest CTR accepted and which of the
// `size` CTRs at and below it were seen. A CTR above the highest is new; one `size` or more below it is
// too old to judge and is refused; one inside the window is refused if already seen.
//
// The receiver checks a frame with isFresh() before decrypting (cheap early refusal) and records it with
// markSeen() only after the frame authenticated, so forged frames cannot move or fill the window.

export class ReplayWindow {
  readonly size: number;
  readonly #sizeBig: bigint;
  /** One slot per CTR modulo `size`; 1 = seen. Slots for CTRs above #highest are kept clear. */
  readonly #seen: Uint8Array;
  /** Highest CTR accepted so far; -1n before the first. */
  #highest = -1n;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('replay window size must be a positive integer');
    this.size = size;
    this.#sizeBig = BigInt(size);
    this.#seen = new Uint8Array(size);
  }

  /** Highest CTR accepted so far, or undefined before the first. */
  get highest(): bigint | undefined {
    return this.#highest < 0n ? undefined : this.#highest;
  }

  /** Whether a frame with this CTR could still be accepted. Does not change the window. */
  isFresh(ctr: bigint): boolean {
    if (ctr > this.#highest) return true;
    if (this.#highest - ctr >= this.#sizeBig) return false;
    return this.#seen[Number(ctr % this.#sizeBig)] === 0;
  }

  /**
   * Records an authenticated CTR. Returns false (and changes nothing) when it is no longer fresh, e.g.
   * a concurrent copy of the same frame was recorded first or the window moved past it meanwhile.
   */
  markSeen(ctr: bigint): boolean {
    if (!this.isFresh(ctr)) return false;
    if (ctr > this.#highest) {
      // Clear the slots of the CTRs the window now covers for the first time: (highest, ctr).
      const advance = ctr - this.#highest;
      if (this.#highest < 0n || advance >= this.#sizeBig) {
        this.#seen.fill(0);
      } else {
        for (let c = this.#highest + 1n; c < ctr; c++) this.#seen[Number(c % this.#sizeBig)] = 0;
      }
      this.#highest = ctr;
    }
    this.#seen[Number(ctr % this.#sizeBig)] = 1;
    return true;
  }
}
