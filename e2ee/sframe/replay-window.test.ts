import fc from 'fast-check';
import { ReplayWindow } from './replay-window.js';

describe('ReplayWindow', () => {
  test('accepts each CTR once, in any order inside the window', () => {
    const window = new ReplayWindow(8);
    for (const ctr of [5n, 3n, 7n, 4n, 0n]) expect(window.markSeen(ctr)).toBe(true);
    for (const ctr of [5n, 3n, 7n, 4n, 0n]) {
      expect(window.isFresh(ctr)).toBe(false);
      expect(window.markSeen(ctr)).toBe(false);
    }
    expect(window.highest).toBe(7n);
    expect(window.isFresh(1n)).toBe(true);
  });

  test('refuses CTRs `size` or more below the highest', () => {
    const window = new ReplayWindow(8);
    expect(window.markSeen(100n)).toBe(true);
    expect(window.isFresh(93n)).toBe(true);
    expect(window.isFresh(92n)).toBe(false);
    expect(window.markSeen(92n)).toBe(false);
  });

  test('a jump ahead clears slots the window did not cover', () => {
    const window = new ReplayWindow(4);
    expect(window.markSeen(1n)).toBe(true);
    expect(window.markSeen(2n)).toBe(true);
    expect(window.markSeen(6n)).toBe(true); // slots of 5 (≡1) and 4 must read as unseen
    expect(window.isFresh(5n)).toBe(true);
    expect(window.isFresh(4n)).toBe(true);
    expect(window.isFresh(3n)).toBe(true);
    expect(window.isFresh(2n)).toBe(false); // 6 - 2 = 4 >= size
    expect(window.markSeen(2n ** 64n - 1n)).toBe(true);
    expect(window.isFresh(6n)).toBe(false);
  });

  test('matches a reference model on random CTR sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.bigInt({ min: 0n, max: 120n }), { maxLength: 300 }), (size, ctrs) => {
        const window = new ReplayWindow(size);
        const seen = new Set<bigint>();
        let highest = -1n;
        for (const ctr of ctrs) {
          const expected = !seen.has(ctr) && (ctr > highest || highest - ctr < BigInt(size));
          expect(window.isFresh(ctr)).toBe(expected);
          expect(window.markSeen(ctr)).toBe(expected);
          if (expected) {
            seen.add(ctr);
            if (ctr > highest) highest = ctr;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('size must be a positive integer', () => {
    expect(() => new ReplayWindow(0)).toThrow(RangeError);
    expect(() => new ReplayWindow(1.5)).toThrow(RangeError);
  });
});
