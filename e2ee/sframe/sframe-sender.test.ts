import { decodeHeader } from './header.js';
import { SFrameReceiver } from './sframe-receiver.js';
import { SFrameSender } from './sframe-sender.js';
import { AES_128_CTR_HMAC_SHA256_80, AES_128_GCM_SHA256_128, CIPHER_SUITES } from './suites.js';

const baseKey = (fill: number): Uint8Array => new Uint8Array(16).fill(fill);
const payload = new Uint8Array(Array.from({ length: 300 }, (_, i) => i & 0xff));

function expectOk<T>(result: { ok: true; value: T } | { ok: false; error: { code: string; detail: string } }): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.detail}`);
  return result.value;
}

function ctrOf(frame: Uint8Array): bigint {
  return expectOk(decodeHeader(frame)).ctr;
}

describe('SFrameSender', () => {
  test.each(CIPHER_SUITES.map((s) => [s.name, s.id] as const))('%s: a receiver with the same key opens its frames', async (_name, suite) => {
    const sender = new SFrameSender(suite);
    await sender.setKey(0x1234n, baseKey(7));
    const receiver = new SFrameReceiver(suite);
    expectOk(await receiver.addKey(0x1234n, baseKey(7)));
    const metadata = new Uint8Array([0x9d, 0x01, 0x2a]);
    for (let i = 0; i < 3; i++) {
      const frame = expectOk(await sender.encrypt(payload, metadata));
      expect(frame.byteOffset).toBe(0);
      expect(frame.byteLength).toBe(frame.buffer.byteLength); // safe to hand frame.buffer to a media API
      const opened = expectOk(await receiver.decrypt(frame, metadata));
      expect(opened.payload).toEqual(payload);
      expect(opened.kid).toBe(0x1234n);
      expect(opened.ctr).toBe(BigInt(i));
    }
  });

  test('encrypt before any key is no-key', async () => {
    const result = await new SFrameSender().encrypt(payload);
    expect(result).toMatchObject({ ok: false, error: { code: 'no-key' } });
  });

  test('many concurrent encrypts each get a distinct CTR (never a reused nonce)', async () => {
    const sender = new SFrameSender(AES_128_GCM_SHA256_128);
    await sender.setKey(3n, baseKey(1));
    const frames = await Promise.all(Array.from({ length: 2000 }, () => sender.encrypt(payload)));
    const ctrs = frames.map((f) => ctrOf(expectOk(f)));
    expect(new Set(ctrs).size).toBe(2000);
    expect(ctrs.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(Array.from({ length: 2000 }, (_, i) => BigInt(i)));
  });

  test('a KID used before resumes its counter; a new KID starts at 0', async () => {
    const sender = new SFrameSender();
    await sender.setKey(1n, baseKey(1));
    expect(ctrOf(expectOk(await sender.encrypt(payload)))).toBe(0n);
    expect(ctrOf(expectOk(await sender.encrypt(payload)))).toBe(1n);
    await sender.setKey(2n, baseKey(2));
    expect(ctrOf(expectOk(await sender.encrypt(payload)))).toBe(0n);
    await sender.setKey(1n, baseKey(1));
    expect(ctrOf(expectOk(await sender.encrypt(payload)))).toBe(2n);
  });

  test('frames encrypted while a key change is pending use the old key; the last setKey wins', async () => {
    const sender = new SFrameSender();
    await sender.setKey(1n, baseKey(1));
    const change = sender.setKey(2n, baseKey(2));
    const duringChange = sender.encrypt(payload);
    const superseding = sender.setKey(3n, baseKey(3));
    await Promise.all([change, superseding]);
    expect(expectOk(decodeHeader(expectOk(await duringChange))).kid).toBe(1n);
    expect(sender.kid).toBe(3n);
  });

  test('stops with counter-exhausted instead of wrapping the CTR', async () => {
    const sender = new SFrameSender(AES_128_CTR_HMAC_SHA256_80, { counterLimit: 2n });
    await sender.setKey(9n, baseKey(9));
    const results = await Promise.all(Array.from({ length: 5 }, () => sender.encrypt(payload)));
    expect(results.map((r) => (r.ok ? ctrOf(r.value) : r.error.code))).toEqual([0n, 1n, 2n, 'counter-exhausted', 'counter-exhausted']);
    // A new key gives a fresh counter space.
    await sender.setKey(10n, baseKey(10));
    expect(ctrOf(expectOk(await sender.encrypt(payload)))).toBe(0n);
  });

  test('a failed setKey fails closed: encrypt reports the error instead of using the old key', async () => {
    const sender = new SFrameSender();
    await sender.setKey(1n, baseKey(1));
    await sender.setKey(2n, new Uint8Array(0));
    expect(await sender.encrypt(payload)).toMatchObject({ ok: false, error: { code: 'bad-key' } });
    expect(sender.kid).toBeUndefined();
    await sender.setKey(-1n, baseKey(1));
    expect(await sender.encrypt(payload)).toMatchObject({ ok: false, error: { code: 'bad-argument' } });
    await sender.setKey(2n, baseKey(2));
    expect((await sender.encrypt(payload)).ok).toBe(true);
  });

  test('bad arguments are results, not exceptions', async () => {
    const sender = new SFrameSender();
    await sender.setKey(1n, baseKey(1));
    expect(await sender.encrypt('frame' as unknown as Uint8Array)).toMatchObject({ ok: false, error: { code: 'bad-argument' } });
    expect(await sender.encrypt(payload, [1, 2] as unknown as Uint8Array)).toMatchObject({ ok: false, error: { code: 'bad-argument' } });
  });

  test('accepts payloads backed by a SharedArrayBuffer or another offset', async () => {
    const sender = new SFrameSender();
    await sender.setKey(1n, baseKey(1));
    const receiver = new SFrameReceiver();
    expectOk(await receiver.addKey(1n, baseKey(1)));
    const shared = new Uint8Array(new SharedArrayBuffer(64)).fill(5);
    const frame = expectOk(await sender.encrypt(shared.subarray(10, 40)));
    const padded = new Uint8Array(frame.length + 7);
    padded.set(frame, 7);
    expect(expectOk(await receiver.decrypt(padded.subarray(7))).payload).toEqual(new Uint8Array(30).fill(5));
  });

  test('refuses bad configuration at construction, naming the field', () => {
    expect(() => new SFrameSender(6 as never)).toThrow(/suite/);
    expect(() => new SFrameSender(AES_128_GCM_SHA256_128, { counterLimit: 2n ** 64n })).toThrow(/counterLimit/);
    expect(() => new SFrameSender(AES_128_GCM_SHA256_128, { countrLimit: 1n } as never)).toThrow(/countrLimit/);
  });
});
