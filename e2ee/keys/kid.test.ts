import fc from 'fast-check';
import { KID_CONTEXT_BITS, KID_EPOCH_BITS, KID_SENDER_BITS, MAX_SENDER_INDEX, STREAM_CONTEXT } from './constants.js';
import { KeyScheduleError } from './errors.js';
import { encodeKid, parseKid } from './kid.js';

describe('KID layout (RFC 9605 §5.2, E = 8, S = 16)', () => {
  it('packs context, sender index and the low epoch bits as the RFC formula says', () => {
    expect(KID_EPOCH_BITS).toBe(8);
    expect(KID_SENDER_BITS).toBe(16);
    // KID = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))
    expect(encodeKid(STREAM_CONTEXT.audio, 3, 14n)).toBe((3n << 8n) + 14n);
    expect(encodeKid(STREAM_CONTEXT.video, 2, 0x1234n)).toBe((1n << 24n) + (2n << 8n) + 0x34n);
    expect(parseKid(0x1000234n)).toEqual({ context: 1, senderIndex: 2, epochBits: 0x34 });
  });

  it('round-trips every field combination', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** KID_CONTEXT_BITS - 1 }),
        fc.integer({ min: 0, max: MAX_SENDER_INDEX }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (context, senderIndex, epoch) => {
          const kid = encodeKid(context, senderIndex, epoch);
          expect(kid).toBeLessThan(1n << 64n);
          expect(parseKid(kid)).toEqual({ context, senderIndex, epochBits: Number(epoch % 256n) });
        },
      ),
    );
  });

  it('gives the two streams of one sender different KIDs', () => {
    expect(encodeKid(STREAM_CONTEXT.audio, 5, 9n)).not.toBe(encodeKid(STREAM_CONTEXT.video, 5, 9n));
  });

  it('rejects out-of-range fields with a KeyScheduleError', () => {
    expect(() => encodeKid(0, MAX_SENDER_INDEX + 1, 0n)).toThrow(KeyScheduleError);
    expect(() => encodeKid(-1, 0, 0n)).toThrow(KeyScheduleError);
    expect(() => encodeKid(2 ** KID_CONTEXT_BITS, 0, 0n)).toThrow(KeyScheduleError);
    expect(() => encodeKid(0, 0, -1n)).toThrow(KeyScheduleError);
    expect(() => parseKid(1n << 64n)).toThrow(KeyScheduleError);
    expect(() => parseKid(-1n)).toThrow(KeyScheduleError);
  });
});
