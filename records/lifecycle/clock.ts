/**
 * Time, injected: retention deadlines are days or years away, so tests move a clock instead of waiting.
 * Every lifecycle decision that depends on "now" (is a recording expired? when was a hold placed?) reads it
 * from a Clock; only `systemClock` reads the machine's.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (UTC). */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A clock that stands still until told to move (tests). */
export class ManualClock implements Clock {
  constructor(private ms: number) {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new TypeError('ManualClock: start must be a non-negative integer of ms');
  }
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
