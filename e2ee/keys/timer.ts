/**
 * The one clock the key schedule needs: a one-shot timer. Injectable so tests drive time by hand; the
 * default is the runtime's global setTimeout, which every target (page, worker, Node) has but the
 * ES2023 library typings do not declare — hence the narrow, typed lookup on globalThis.
 */
export interface KeyScheduleTimer {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface GlobalTimers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const globalTimer: KeyScheduleTimer = {
  setTimeout(callback, delayMs) {
    return (globalThis as unknown as GlobalTimers).setTimeout(callback, delayMs);
  },
  clearTimeout(handle) {
    (globalThis as unknown as GlobalTimers).clearTimeout(handle);
  },
};
