import fc from 'fast-check';
import { frameNonce, nonceSalt } from './nonce.js';

/** The RFC's definition, computed the slow obvious way: salt XOR encode_big_endian(CTR, Nn). */
function referenceNonce(salt: Uint8Array, ctr: bigint): Uint8Array {
  const out = salt.slice();
  for (let i = out.length - 1, v = ctr; i >= 0; i--, v >>= 8n) out[i]! ^= Number(v & 0xffn);
  return out;
}

describe('frameNonce (RFC 9605 §4.4.3, erratum 8321)', () => {
  test('equals salt XOR encode_big_endian(CTR, Nn) for CTRs across the whole 64-bit range', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 53n - 4n, max: 2n ** 53n + 4n }), fc.bigInt({ min: 0n, max: 1000n })),
        (salt, ctr) => {
          expect(Array.from(frameNonce(nonceSalt(salt), ctr))).toEqual(Array.from(referenceNonce(salt, ctr)));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('returns a fresh array each time', () => {
    const salt = nonceSalt(new Uint8Array(12));
    const a = frameNonce(salt, 1n);
    const b = frameNonce(salt, 1n);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
  });
});
