import fc from 'fast-check';
import { decodeHeader, encodeHeader, headerLength, MAX_HEADER_LENGTH, MAX_HEADER_VALUE, writeHeader } from './header.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const code = (result: { ok: boolean; error?: { code: string } }): string | undefined => (result.ok ? undefined : result.error?.code);

describe('SFrame header (RFC 9605 §4.3)', () => {
  test('round-trips every KID and CTR in [0, 2^64-1] in the minimal length', () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: MAX_HEADER_VALUE }), fc.bigInt({ min: 0n, max: 300n }));
    fc.assert(
      fc.property(value, value, (kid, ctr) => {
        const encoded = encodeHeader(kid, ctr);
        if (!encoded.ok) return false;
        expect(encoded.value.length).toBe(headerLength(kid, ctr));
        expect(encoded.value.length).toBeLessThanOrEqual(MAX_HEADER_LENGTH);
        expect(decodeHeader(encoded.value)).toEqual({ ok: true, value: { kid, ctr, length: encoded.value.length } });
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  test('writeHeader writes at an offset and returns the length', () => {
    const out = new Uint8Array(20).fill(0xee);
    expect(writeHeader(out, 2, 0x123n, 0x4567n)).toBe(5);
    expect(Array.from(out.subarray(0, 8))).toEqual([0xee, 0xee, 0x99, 0x01, 0x23, 0x45, 0x67, 0xee]);
  });

  test('encode refuses values outside [0, 2^64-1] with bad-argument', () => {
    expect(code(encodeHeader(-1n, 0n))).toBe('bad-argument');
    expect(code(encodeHeader(0n, MAX_HEADER_VALUE + 1n))).toBe('bad-argument');
    expect(code(encodeHeader(1 as unknown as bigint, 0n))).toBe('bad-argument');
  });

  test('an empty frame is truncated-header', () => {
    expect(code(decodeHeader(new Uint8Array(0)))).toBe('truncated-header');
  });

  test('every config byte with one byte too few is truncated-header', () => {
    for (let config = 0; config < 256; config++) {
      const kidLength = config & 0x80 ? ((config >> 4) & 7) + 1 : 0;
      const ctrLength = config & 0x08 ? (config & 7) + 1 : 0;
      const needed = 1 + kidLength + ctrLength;
      if (needed === 1) continue;
      const short = new Uint8Array(needed - 1).fill(0xff);
      short[0] = config;
      expect(code(decodeHeader(short))).toBe('truncated-header');
    }
  });

  test('non-minimal encodings are bad-header (§4.3: "MUST be encoded with the minimum number of bytes")', () => {
    expect(code(decodeHeader(bytes(0x08, 0x07)))).toBe('bad-header'); // CTR 7 in extended form
    expect(code(decodeHeader(bytes(0x09, 0x00, 0xff)))).toBe('bad-header'); // CTR with a leading zero
    expect(code(decodeHeader(bytes(0x80, 0x05)))).toBe('bad-header'); // KID 5 in extended form
    expect(code(decodeHeader(bytes(0x90, 0x00, 0x09)))).toBe('bad-header'); // KID with a leading zero
    expect(code(decodeHeader(bytes(0xf8, 0, 0, 0, 0, 0, 0, 0, 8, 0x09)))).toBe('bad-header');
    // The minimal forms of the same values decode.
    expect(decodeHeader(bytes(0x08, 0x08))).toEqual({ ok: true, value: { kid: 0n, ctr: 8n, length: 2 } });
    expect(decodeHeader(bytes(0x80, 0x08))).toEqual({ ok: true, value: { kid: 8n, ctr: 0n, length: 2 } });
  });

  test('decoding any byte string never throws and reports a consistent length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 24 }), (frame) => {
        const decoded = decodeHeader(frame);
        if (decoded.ok) {
          expect(decoded.value.length).toBeLessThanOrEqual(frame.length);
          const again = encodeHeader(decoded.value.kid, decoded.value.ctr);
          // Only canonical headers decode, so re-encoding reproduces the exact bytes.
          expect(again.ok && Array.from(again.value)).toEqual(Array.from(frame.subarray(0, decoded.value.length)));
        } else {
          expect(['truncated-header', 'bad-header']).toContain(decoded.error.code);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
