import { PREVIOUS_EPOCH_GRACE_MS, SFRAME_SUITE, STREAM_CONTEXT } from './constants.js';
import { KeyScheduleError } from './errors.js';
import { encodeKid } from './kid.js';
import { SFrameKeySchedule } from './sframe-key-schedule.js';
import type { KeyScheduleTimer } from './timer.js';

/** A hand-driven clock: nothing fires until the test advances time. */
class FakeTimer implements KeyScheduleTimer {
  nowMs = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.nowMs + delayMs, fn: callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    this.nowMs += ms;
    for (const [id, entry] of [...this.pending]) {
      if (entry.at <= this.nowMs) {
        this.pending.delete(id);
        entry.fn();
      }
    }
  }
  get size(): number {
    return this.pending.size;
  }
}

const secret = (fill: number) => new Uint8Array(16).fill(fill);

describe('SFrameKeySchedule', () => {
  it('hands the sender its KID per stream and the epoch base_key', async () => {
    const keys = new SFrameKeySchedule({ timer: new FakeTimer() });
    expect(keys.senderKey(STREAM_CONTEXT.audio)).toBeUndefined();
    await keys.installEpoch({ epoch: 7n, ownLeafIndex: 2, epochSecret: secret(1), rosterLeafIndices: [0, 2] });
    const audio = keys.senderKey(STREAM_CONTEXT.audio)!;
    const video = keys.senderKey(STREAM_CONTEXT.video)!;
    expect(audio.kid).toBe(encodeKid(0, 2, 7n));
    expect(video.kid).toBe(encodeKid(1, 2, 7n));
    expect(audio.baseKey).toEqual(secret(1));
    expect(keys.parseKid(video.kid)).toEqual({ context: 1, senderIndex: 2, epochBits: 7 });
  });

  it('resolves KIDs of roster members only, of known contexts and held epochs', async () => {
    const keys = new SFrameKeySchedule({ timer: new FakeTimer() });
    await keys.installEpoch({ epoch: 3n, ownLeafIndex: 0, epochSecret: secret(3), rosterLeafIndices: [0, 1, 4] });
    expect(keys.resolveBaseKey(encodeKid(0, 4, 3n))).toEqual(secret(3));
    expect(keys.resolveBaseKey(encodeKid(1, 1, 3n))).toEqual(secret(3));
    expect(keys.resolveBaseKey(encodeKid(0, 2, 3n))).toBeUndefined(); // not in the roster
    expect(keys.resolveBaseKey(encodeKid(0, 1, 4n))).toBeUndefined(); // epoch never installed
    expect(keys.resolveBaseKey(encodeKid(9, 1, 3n))).toBeUndefined(); // unknown stream context
    expect(keys.resolveBaseKey(1n << 70n)).toBeUndefined(); // not a KID at all
  });

  it('keeps the previous epoch for the grace period, then erases it', async () => {
    const timer = new FakeTimer();
    const erased: bigint[] = [];
    const keys = new SFrameKeySchedule({ timer, onEpochErased: (e) => erased.push(e.epoch) });
    await keys.installEpoch({ epoch: 10n, ownLeafIndex: 0, epochSecret: secret(10), rosterLeafIndices: [0, 1] });
    await keys.installEpoch({ epoch: 11n, ownLeafIndex: 0, epochSecret: secret(11), rosterLeafIndices: [0] });

    // The sender moved on at once; a late frame of leaf 1 from epoch 10 still opens.
    expect(keys.parseKid(keys.senderKey(0)!.kid).epochBits).toBe(11);
    expect(keys.resolveBaseKey(encodeKid(0, 1, 10n))).toEqual(secret(10));
    // Leaf 1 is not in epoch 11.
    expect(keys.resolveBaseKey(encodeKid(0, 1, 11n))).toBeUndefined();

    timer.advance(PREVIOUS_EPOCH_GRACE_MS - 1);
    expect(keys.resolveBaseKey(encodeKid(0, 1, 10n))).toEqual(secret(10));
    timer.advance(1);
    expect(keys.resolveBaseKey(encodeKid(0, 1, 10n))).toBeUndefined();
    expect(keys.previousEpoch).toBeUndefined();
    expect(erased).toEqual([10n]);
    expect(keys.resolveBaseKey(encodeKid(0, 0, 11n))).toEqual(secret(11));
  });

  it('zeroes the erased key material it held', async () => {
    const timer = new FakeTimer();
    const keys = new SFrameKeySchedule({ timer });
    await keys.installEpoch({ epoch: 1n, ownLeafIndex: 0, epochSecret: secret(1) });
    const held = (keys as unknown as { current: { baseKey: Uint8Array } }).current.baseKey;
    await keys.installEpoch({ epoch: 2n, ownLeafIndex: 0, epochSecret: secret(2) });
    timer.advance(PREVIOUS_EPOCH_GRACE_MS);
    expect(held).toEqual(new Uint8Array(16));
  });

  it('keeps at most one previous epoch', async () => {
    const timer = new FakeTimer();
    const keys = new SFrameKeySchedule({ timer });
    await keys.installEpoch({ epoch: 1n, ownLeafIndex: 0, epochSecret: secret(1) });
    await keys.installEpoch({ epoch: 2n, ownLeafIndex: 0, epochSecret: secret(2) });
    await keys.installEpoch({ epoch: 3n, ownLeafIndex: 0, epochSecret: secret(3) });
    expect(keys.resolveBaseKey(encodeKid(0, 0, 1n))).toBeUndefined();
    expect(keys.resolveBaseKey(encodeKid(0, 0, 2n))).toEqual(secret(2));
    expect(timer.size).toBe(1);
  });

  it('removes an old epoch at once when the low E bits roll over onto it (RFC 9605 §5.2)', async () => {
    const keys = new SFrameKeySchedule({ timer: new FakeTimer() });
    await keys.installEpoch({ epoch: 5n, ownLeafIndex: 0, epochSecret: secret(5) });
    await keys.installEpoch({ epoch: 5n + 256n, ownLeafIndex: 0, epochSecret: secret(6) });
    expect(keys.previousEpoch).toBeUndefined();
    expect(keys.resolveBaseKey(encodeKid(0, 0, 5n))).toEqual(secret(6));
  });

  it('clear() erases everything', async () => {
    const timer = new FakeTimer();
    const keys = new SFrameKeySchedule({ timer });
    await keys.installEpoch({ epoch: 1n, ownLeafIndex: 0, epochSecret: secret(1) });
    await keys.installEpoch({ epoch: 2n, ownLeafIndex: 0, epochSecret: secret(2) });
    keys.clear();
    expect(keys.senderKey(0)).toBeUndefined();
    expect(keys.resolveBaseKey(encodeKid(0, 0, 1n))).toBeUndefined();
    expect(keys.resolveBaseKey(encodeKid(0, 0, 2n))).toBeUndefined();
    expect(timer.size).toBe(0);
  });

  it('refuses stale epochs and malformed input with typed errors', async () => {
    const keys = new SFrameKeySchedule({ timer: new FakeTimer() });
    await keys.installEpoch({ epoch: 4n, ownLeafIndex: 0, epochSecret: secret(4) });
    await expect(keys.installEpoch({ epoch: 4n, ownLeafIndex: 0, epochSecret: secret(4) })).rejects.toMatchObject({
      name: 'KeyScheduleError',
      code: 'epoch-not-newer',
    });
    await expect(keys.installEpoch({ epoch: 5n, ownLeafIndex: 0, epochSecret: new Uint8Array(15) })).rejects.toBeInstanceOf(KeyScheduleError);
    await expect(
      keys.installEpoch({ epoch: 5n, ownLeafIndex: 3, epochSecret: secret(5), rosterLeafIndices: [0, 1] }),
    ).rejects.toMatchObject({ code: 'bad-argument' });
    expect(() => new SFrameKeySchedule({ suite: 9 as never })).toThrow(KeyScheduleError);
    const wide = new SFrameKeySchedule({ suite: SFRAME_SUITE.AES_128_CTR_HMAC_SHA256_80, timer: new FakeTimer() });
    await expect(wide.installEpoch({ epoch: 1n, ownLeafIndex: 0, epochSecret: new Uint8Array(48) })).resolves.toBeUndefined();
  });
});
