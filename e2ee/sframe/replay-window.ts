// Anti-replay for one KID. RFC 9605 §7.4 leaves replay handling to the application; this is the usual
// sliding window (as in RFC 4303 §3.4.3 / RFC 6479): remember the highest CTR accepted and which of the
// `size` CTRs at and below it were seen. A CTR above the highest is new; one `size` or more below it is
// too old to judge and is refused; one inside the window is refused if already seen.
//
// The receiver checks a frame with isFresh() before decrypting (cheap early refusal) and records it with
// markSeen() only after the frame authenticated, so forged frames cannot move or fill the window.
// Both run per frame: the common path does no BigInt arithmetic (only comparisons).

const MAX_SAFE_CTR = BigInt(Number.MAX_SAFE_INTEGER);

export class ReplayWindow {
  readonly size: number;
  readonly #sizeBig: bigint;
  /** One slot per CTR modulo `size`; 1 = seen. Slots for CTRs above #highest are kept clear. */
  readonly #seen: Uint8Array;
  /** Highest CTR accepted so far; -1n before the first. */
  #highest = -1n;
  /** Lowest CTR still inside the window: #highest - size + 1 (may be negative). */
  #lowest = 0n;

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

  #slot(ctr: bigint): number {
    return ctr <= MAX_SAFE_CTR ? Number(ctr) % this.size : Number(ctr % this.#sizeBig);
  }

  /** Whether a frame with this CTR could still be accepted. Does not change the window. */
  isFresh(ctr: bigint): boolean {
    if (ctr > this.#highest) return true;
    if (ctr < this.#lowest) return false;
    return this.#seen[this.#slot(ctr)] === 0;
  }

  /**
   * Records an authenticated CTR. Returns false (and changes nothing) when it is no longer fresh, e.g.
   * a concurrent copy of the same frame was recorded first or the window moved past it meanwhile.
   */
  markSeen(ctr: bigint): boolean {
    if (!this.isFresh(ctr)) return false;
    if (ctr > this.#highest) {
      // Clear the slots of the CTRs the window now covers for the first time: (highest, ctr).
      if (this.#highest < 0n || ctr - this.#highest >= this.#sizeBig) {
        this.#seen.fill(0);
      } else {
        for (let c = this.#highest + 1n; c < ctr; c++) this.#seen[this.#slot(c)] = 0;
      }
      this.#highest = ctr;
      this.#lowest = ctr - this.#sizeBig + 1n;
    }
    this.#seen[this.#slot(ctr)] = 1;
    return true;
  }
}
