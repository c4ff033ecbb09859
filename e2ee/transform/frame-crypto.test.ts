import { FrameDecryptor, FrameEncryptor } from './frame-crypto.js';
import { clearPrefixLength, VP8_DELTA_FRAME_CLEAR_BYTES, VP8_KEY_FRAME_CLEAR_BYTES } from './codec-profile.js';
import { SFrameKeySchedule, type KeyScheduleTimer } from '../keys/index.js';
import { DEFAULT_CIPHER_SUITE } from '../sframe/index.js';

/** A timer the test advances by hand, so grace periods are deterministic. */
class ManualTimer implements KeyScheduleTimer {
  private tasks: Array<{ at: number; run: () => void; id: number }> = [];
  private now = 0;
  private nextId = 1;
  setTimeout(run: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.tasks.push({ at: this.now + ms, run, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.tasks = this.tasks.filter((task) => task.id !== handle);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = this.tasks.filter((task) => task.at <= this.now);
    this.tasks = this.tasks.filter((task) => task.at > this.now);
    due.forEach((task) => task.run());
  }
}

const secret = (fill: number) => new Uint8Array(16).fill(fill);

function vp8Frame(key: boolean, length = 200): Uint8Array {
  const frame = crypto.getRandomValues(new Uint8Array(length));
  frame[0] = key ? frame[0]! & 0xfe : frame[0]! | 0x01;
  return frame;
}

async function member(leaf: number, roster: number[], epoch = 1n, fill = 7, timer = new ManualTimer()) {
  const decryptors: FrameDecryptor[] = [];
  const keys = new SFrameKeySchedule({ timer, onEpochErased: ({ epochBits }) => decryptors.forEach((d) => d.forgetEpoch(epochBits)) });
  await keys.installEpoch({ epoch, ownLeafIndex: leaf, epochSecret: secret(fill), rosterLeafIndices: roster });
  const decryptor = (kind: 'audio' | 'video') => {
    const d = new FrameDecryptor(kind, DEFAULT_CIPHER_SUITE, keys);
    decryptors.push(d);
    return d;
  };
  return { keys, timer, decryptor };
}

describe('codec profile', () => {
  test('VP8 key frames keep 10 bytes in the clear, delta frames 1, Opus none', () => {
    expect(clearPrefixLength('video', vp8Frame(true))).toBe(VP8_KEY_FRAME_CLEAR_BYTES);
    expect(clearPrefixLength('video', vp8Frame(false))).toBe(VP8_DELTA_FRAME_CLEAR_BYTES);
    expect(clearPrefixLength('audio', vp8Frame(true))).toBe(0);
    expect(clearPrefixLength('video', new Uint8Array(0))).toBe(0);
    expect(clearPrefixLength('video', new Uint8Array([0, 1, 2]))).toBe(3);
  });
});

describe('frame encryption between two members', () => {
  test('VP8 and Opus frames round-trip; the clear prefix is the original header; the sender is attributed', async () => {
    const alice = await member(0, [0, 1]);
    const bob = await member(1, [0, 1]);
    for (const [kind, frame] of [
      ['video', vp8Frame(true)],
      ['video', vp8Frame(false)],
      ['audio', crypto.getRandomValues(new Uint8Array(120))],
    ] as const) {
      const sealed = await new FrameEncryptor(kind, DEFAULT_CIPHER_SUITE, alice.keys).encrypt(frame);
      if (!sealed.ok) throw new Error(sealed.error.code);
      const prefix = clearPrefixLength(kind, frame);
      expect(sealed.value.subarray(0, prefix)).toEqual(frame.subarray(0, prefix));
      expect(Buffer.from(sealed.value).includes(Buffer.from(frame.subarray(prefix, prefix + 32)))).toBe(false);
      const opened = await bob.decryptor(kind).decrypt(sealed.value);
      if (!opened.ok) throw new Error(opened.error.code);
      expect(opened.value.frame).toEqual(frame);
      expect(opened.value.senderLeafIndex).toBe(0);
    }
  });

  test('the clear VP8 header is authenticated: changing it fails the frame', async () => {
    const alice = await member(0, [0, 1]);
    const bob = await member(1, [0, 1]);
    const sealed = await new FrameEncryptor('video', DEFAULT_CIPHER_SUITE, alice.keys).encrypt(vp8Frame(true));
    if (!sealed.ok) throw new Error(sealed.error.code);
    const tampered = sealed.value.slice();
    tampered[4] = tampered[4]! ^ 0x40; // inside the 10 clear bytes
    const opened = await bob.decryptor('video').decrypt(tampered);
    expect(opened.ok).toBe(false);
    if (!opened.ok) expect(opened.error.code).toBe('auth-failed');
  });

  test('nothing is sent before the first epoch key: no-key, never plaintext', async () => {
    const keys = new SFrameKeySchedule();
    const result = await new FrameEncryptor('audio', DEFAULT_CIPHER_SUITE, keys).encrypt(new Uint8Array(10));
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ code: 'no-key' }) });
  });

  test('a member holding a different epoch secret cannot open frames', async () => {
    const alice = await member(0, [0, 1], 1n, 7);
    const stranger = await member(1, [0, 1], 1n, 8);
    const sealed = await new FrameEncryptor('audio', DEFAULT_CIPHER_SUITE, alice.keys).encrypt(new Uint8Array(50));
    if (!sealed.ok) throw new Error(sealed.error.code);
    const opened = await stranger.decryptor('audio').decrypt(sealed.value);
    expect(opened.ok).toBe(false);
    if (!opened.ok) expect(opened.error.code).toBe('auth-failed');
  });

  test('after a commit the sender switches epoch at once; the previous epoch opens only during the grace period', async () => {
    const alice = await member(0, [0, 1]);
    const bob = await member(1, [0, 1]);
    const encryptor = new FrameEncryptor('audio', DEFAULT_CIPHER_SUITE, alice.keys);
    const decryptor = bob.decryptor('audio');
    const seal = async (bytes: number[]) => {
      const sealed = await encryptor.encrypt(new Uint8Array(bytes));
      if (!sealed.ok) throw new Error(sealed.error.code);
      return sealed.value;
    };
    expect((await decryptor.decrypt(await seal([0]))).ok).toBe(true);
    const inFlight = [await seal([1, 2, 3]), await seal([4, 5, 6])];

    await alice.keys.installEpoch({ epoch: 2n, ownLeafIndex: 0, epochSecret: secret(9), rosterLeafIndices: [0, 1] });
    await bob.keys.installEpoch({ epoch: 2n, ownLeafIndex: 1, epochSecret: secret(9), rosterLeafIndices: [0, 1] });
    const fresh = await decryptor.decrypt(await seal([7]));
    expect(fresh.ok && fresh.value.kid).not.toBe(false);
    // A frame sealed just before the commit, arriving late, still opens within the grace period...
    expect((await decryptor.decrypt(inFlight[0]!)).ok).toBe(true);
    // ...but not after it: the previous epoch's keys, and the SFrame keys derived from them, are gone.
    bob.timer.advance(1000);
    const refused = await decryptor.decrypt(inFlight[1]!);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe('unknown-kid');
  });
});
