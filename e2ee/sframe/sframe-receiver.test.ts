import { encodeHeader } from './header.js';
import { SFrameReceiver, type SFrameReceiverOptions } from './sframe-receiver.js';
import { SFrameSender } from './sframe-sender.js';
import { AES_128_CTR_HMAC_SHA256_32, AES_128_GCM_SHA256_128, type CipherSuiteId } from './suites.js';

const baseKey = (fill: number): Uint8Array => new Uint8Array(16).fill(fill);
const payload = new Uint8Array(200).fill(0x42);

function expectOk<T>(result: { ok: true; value: T } | { ok: false; error: { code: string; detail: string } }): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.detail}`);
  return result.value;
}

const codeOf = (result: { ok: boolean; error?: { code: string } }): string => (result.ok ? 'ok' : result.error!.code);

async function senderFor(kid: bigint, key: Uint8Array, suite: CipherSuiteId = AES_128_GCM_SHA256_128): Promise<SFrameSender> {
  const sender = new SFrameSender(suite);
  await sender.setKey(kid, key);
  return sender;
}

async function receiverWith(kid: bigint, key: Uint8Array, options: SFrameReceiverOptions = {}, suite: CipherSuiteId = AES_128_GCM_SHA256_128) {
  const receiver = new SFrameReceiver(suite, options);
  expectOk(await receiver.addKey(kid, key));
  return receiver;
}

describe('SFrameReceiver', () => {
  test('refuses malformed frames with the named code', async () => {
    const receiver = await receiverWith(5n, baseKey(5), { maxFrameBytes: 1000 });
    expect(codeOf(await receiver.decrypt(new Uint8Array(0)))).toBe('truncated-header');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0xff, 1, 2, 3])))).toBe('truncated-header');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x08, 0x03, ...new Uint8Array(16)])))).toBe('bad-header');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x50, ...new Uint8Array(15)])))).toBe('truncated-frame');
    expect(codeOf(await receiver.decrypt(new Uint8Array(1001)))).toBe('too-large');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x60, ...new Uint8Array(16)])))).toBe('unknown-kid');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x50, ...new Uint8Array(16)])))).toBe('auth-failed');
    expect(codeOf(await receiver.decrypt({ length: 3 } as unknown as Uint8Array))).toBe('bad-argument');
    expect(codeOf(await receiver.decrypt(new Uint8Array(20), 'x' as unknown as Uint8Array))).toBe('bad-argument');
  });

  test('a flipped bit anywhere, or different metadata, is auth-failed', async () => {
    const sender = await senderFor(5n, baseKey(5));
    const receiver = await receiverWith(5n, baseKey(5));
    const metadata = new Uint8Array([1, 2, 3]);
    const frame = expectOk(await sender.encrypt(payload, metadata));
    for (const index of [1, 10, frame.length - 17, frame.length - 1]) {
      const forged = frame.slice();
      forged[index]! ^= 0x01;
      expect(codeOf(await receiver.decrypt(forged, metadata))).toBe('auth-failed');
    }
    expect(codeOf(await receiver.decrypt(frame, new Uint8Array([1, 2, 4])))).toBe('auth-failed');
    expect(codeOf(await receiver.decrypt(frame))).toBe('auth-failed');
    // None of the failures consumed the CTR: the genuine frame still opens, once.
    expect(codeOf(await receiver.decrypt(frame, metadata))).toBe('ok');
  });

  test('a CTR is accepted once; reordering inside the window is fine; older is replayed', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = await receiverWith(1n, baseKey(1), { replayWindow: 16 });
    const frames = [];
    for (let i = 0; i < 40; i++) frames.push(expectOk(await sender.encrypt(payload)));
    expect(codeOf(await receiver.decrypt(frames[20]!))).toBe('ok');
    expect(codeOf(await receiver.decrypt(frames[20]!))).toBe('replayed');
    expect(codeOf(await receiver.decrypt(frames[5]!))).toBe('ok'); // 15 behind: inside a window of 16
    expect(codeOf(await receiver.decrypt(frames[4]!))).toBe('replayed'); // 16 behind: too old
    expect(codeOf(await receiver.decrypt(frames[39]!))).toBe('ok');
    expect(codeOf(await receiver.decrypt(frames[21]!))).toBe('replayed');
    expect(codeOf(await receiver.decrypt(frames[30]!))).toBe('ok');
  });

  test('concurrent copies of one frame: exactly one is accepted', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = await receiverWith(1n, baseKey(1));
    const frame = expectOk(await sender.encrypt(payload));
    const results = await Promise.all(Array.from({ length: 20 }, () => receiver.decrypt(frame)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(new Set(results.filter((r) => !r.ok).map(codeOf))).toEqual(new Set(['replayed']));
  });

  test('a forged frame with a far-ahead CTR does not move the window', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = await receiverWith(1n, baseKey(1), { replayWindow: 8 });
    const genuine = expectOk(await sender.encrypt(payload));
    const forgedHeader = expectOk(encodeHeader(1n, 1_000_000n));
    const forged = new Uint8Array(forgedHeader.length + 40);
    forged.set(forgedHeader);
    expect(codeOf(await receiver.decrypt(forged))).toBe('auth-failed');
    expect(codeOf(await receiver.decrypt(genuine))).toBe('ok');
  });

  test('key set stays bounded: least recently used keys are evicted', async () => {
    const resolved: bigint[] = [];
    const receiver = new SFrameReceiver(AES_128_GCM_SHA256_128, {
      maxKeys: 4,
      resolveBaseKey: (kid) => {
        resolved.push(kid);
        return kid < 100n ? baseKey(Number(kid)) : undefined;
      },
    });
    for (let kid = 0n; kid < 50n; kid++) {
      const sender = await senderFor(kid, baseKey(Number(kid)));
      expect(codeOf(await receiver.decrypt(expectOk(await sender.encrypt(payload))))).toBe('ok');
      expect(receiver.keyCount).toBeLessThanOrEqual(4);
    }
    expect(receiver.keyCount).toBe(4);
    expect([46n, 47n, 48n, 49n].every((kid) => receiver.hasKey(kid))).toBe(true);
    expect(resolved).toHaveLength(50);
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x80, 200, ...new Uint8Array(20)])))).toBe('unknown-kid');
    expect(receiver.keyCount).toBe(4);
  });

  test('eviction and re-resolution of a key does not reopen its replay window', async () => {
    const receiver = new SFrameReceiver(AES_128_GCM_SHA256_128, { maxKeys: 1, resolveBaseKey: (kid) => baseKey(Number(kid)) });
    const first = await senderFor(1n, baseKey(1));
    const other = await senderFor(2n, baseKey(2));
    const old = expectOk(await first.encrypt(payload));
    expect(codeOf(await receiver.decrypt(old))).toBe('ok');
    expect(codeOf(await receiver.decrypt(expectOk(await other.encrypt(payload))))).toBe('ok'); // evicts KID 1
    expect(receiver.hasKey(1n)).toBe(false);
    expect(codeOf(await receiver.decrypt(old))).toBe('replayed'); // KID 1 re-resolved, window restored
    expect(codeOf(await receiver.decrypt(expectOk(await first.encrypt(payload))))).toBe('ok');
  });

  test('removing a key and adding the same key again keeps its replay window', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = await receiverWith(1n, baseKey(1));
    const frame = expectOk(await sender.encrypt(payload));
    expect(codeOf(await receiver.decrypt(frame))).toBe('ok');
    receiver.removeKey(1n);
    expectOk(await receiver.addKey(1n, baseKey(1)));
    expect(codeOf(await receiver.decrypt(frame))).toBe('replayed');
    expect(codeOf(await receiver.decrypt(expectOk(await sender.encrypt(payload))))).toBe('ok');
  });

  test('new key material for a KID starts a fresh window (MLS epoch bits wrapping, RFC 9605 §5.2)', async () => {
    const receiver = await receiverWith(1n, baseKey(1));
    const oldSender = await senderFor(1n, baseKey(1));
    for (let i = 0; i < 5; i++) expect(codeOf(await receiver.decrypt(expectOk(await oldSender.encrypt(payload))))).toBe('ok');
    const stale = expectOk(await oldSender.encrypt(payload));
    expectOk(await receiver.addKey(1n, baseKey(99)));
    const newSender = await senderFor(1n, baseKey(99));
    expect(codeOf(await receiver.decrypt(expectOk(await newSender.encrypt(payload))))).toBe('ok'); // CTR 0 again
    expect(codeOf(await receiver.decrypt(stale))).toBe('auth-failed'); // the old key is gone
  });

  test('removeKey takes effect at once, including for a decrypt in flight', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = await receiverWith(1n, baseKey(1));
    const inFlight = receiver.decrypt(expectOk(await sender.encrypt(payload)));
    expect(receiver.removeKey(1n)).toBe(true);
    expect(codeOf(await inFlight)).toBe('unknown-kid');
    expect(codeOf(await receiver.decrypt(expectOk(await sender.encrypt(payload))))).toBe('unknown-kid');
    expect(receiver.removeKey(1n)).toBe(false);
  });

  test('removeKey cancels a pending addKey', async () => {
    const sender = await senderFor(1n, baseKey(1));
    const receiver = new SFrameReceiver();
    const adding = receiver.addKey(1n, baseKey(1));
    receiver.removeKey(1n);
    expect((await adding).ok).toBe(true);
    expect(receiver.hasKey(1n)).toBe(false);
    expect(codeOf(await receiver.decrypt(expectOk(await sender.encrypt(payload))))).toBe('unknown-kid');
  });

  test('frames arriving while addKey derives wait for it; concurrent unknown KIDs resolve once', async () => {
    const sender = await senderFor(7n, baseKey(7));
    const frames = await Promise.all(Array.from({ length: 10 }, () => sender.encrypt(payload)));
    const waiting = new SFrameReceiver();
    const adding = waiting.addKey(7n, baseKey(7));
    const opened = await Promise.all(frames.map((f) => waiting.decrypt(expectOk(f))));
    expect(opened.every((r) => r.ok)).toBe(true);
    expectOk(await adding);

    let calls = 0;
    const lazy = new SFrameReceiver(AES_128_GCM_SHA256_128, { resolveBaseKey: () => (calls++, baseKey(7)) });
    const lazyOpened = await Promise.all(frames.map((f) => lazy.decrypt(expectOk(f))));
    expect(lazyOpened.every((r) => r.ok)).toBe(true);
    expect(calls).toBe(1);
  });

  test('a failing resolver yields a result, not an exception', async () => {
    const frame = new Uint8Array([0x10, ...new Uint8Array(20)]);
    const throwing = new SFrameReceiver(AES_128_GCM_SHA256_128, { resolveBaseKey: () => { throw new Error('boom'); } });
    expect(codeOf(await throwing.decrypt(frame))).toBe('bad-key');
    const empty = new SFrameReceiver(AES_128_GCM_SHA256_128, { resolveBaseKey: () => new Uint8Array(0) });
    expect(codeOf(await empty.decrypt(frame))).toBe('bad-key');
    expect(empty.keyCount).toBe(0);
  });

  test('addKey refuses bad keys and KIDs with results', async () => {
    const receiver = new SFrameReceiver();
    expect(codeOf(await receiver.addKey(-1n, baseKey(1)))).toBe('bad-argument');
    expect(codeOf(await receiver.addKey(2n ** 64n, baseKey(1)))).toBe('bad-argument');
    expect(codeOf(await receiver.addKey(1n, new Uint8Array(0)))).toBe('bad-key');
    expect(codeOf(await receiver.addKey(1n, 'key' as unknown as Uint8Array))).toBe('bad-key');
    expect(receiver.keyCount).toBe(0);
  });

  test('short-tag suite: truncated-frame below Nt = 4 bytes, auth-failed at 4', async () => {
    const receiver = await receiverWith(1n, baseKey(1), {}, AES_128_CTR_HMAC_SHA256_32);
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x10, 0, 0, 0])))).toBe('truncated-frame');
    expect(codeOf(await receiver.decrypt(new Uint8Array([0x10, 0, 0, 0, 0])))).toBe('auth-failed');
  });

  test('refuses bad configuration at construction, naming the field', () => {
    expect(() => new SFrameReceiver(0 as never)).toThrow(/suite/);
    expect(() => new SFrameReceiver(AES_128_GCM_SHA256_128, { maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new SFrameReceiver(AES_128_GCM_SHA256_128, { replayWindow: 1e6 })).toThrow(/replayWindow/);
    expect(() => new SFrameReceiver(AES_128_GCM_SHA256_128, { maxFrameBytes: -5 })).toThrow(/maxFrameBytes/);
    expect(() => new SFrameReceiver(AES_128_GCM_SHA256_128, { resolveBaseKey: 'x' } as never)).toThrow(/resolveBaseKey/);
    expect(() => new SFrameReceiver(AES_128_GCM_SHA256_128, { maxkeys: 3 } as never)).toThrow(/maxkeys/);
  });
});
