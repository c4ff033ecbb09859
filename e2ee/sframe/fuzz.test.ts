// Fuzzing the receiver: over 100,000 random and mutated frames (bit flips, truncations, extensions,
// header rewrites, splices, metadata changes, random bytes), across all five cipher suites, against a
// receiver holding real keys. Properties:
//   - decrypt never throws or rejects, and every refusal carries a known code;
//   - a frame is accepted only if (frame, metadata) is byte-identical to a genuine pair the key holder
//     produced, with that pair's payload, KID and CTR;
//   - every genuine frame, delivered several times (also concurrently), is accepted exactly once.
// The generator is seeded, so a failure reproduces; set SFRAME_FUZZ_SEED to explore other seeds.

import { decodeHeader, encodeHeader, MAX_HEADER_VALUE } from './header.js';
import { SFrameReceiver } from './sframe-receiver.js';
import { SFrameSender } from './sframe-sender.js';
import { CIPHER_SUITES, type CipherSuite } from './suites.js';
import type { SFrameErrorCode } from './errors.js';

const SEED = Number(process.env.SFRAME_FUZZ_SEED ?? 0x5f4a3e21);
const FUZZ_FRAMES_PER_SUITE = 20_000;
const GENUINE_FRAMES_PER_SUITE = 400;
const BATCH_FUZZ_FRAMES = 1_000;
const MAX_FRAME_BYTES = 1024;
const KID_A = 0x2an; // the key the receiver holds via addKey
const KID_B = 0x1_0000n; // a second key, supplied lazily by resolveBaseKey

const REFUSAL_CODES: ReadonlySet<SFrameErrorCode> = new Set<SFrameErrorCode>([
  'too-large', 'truncated-header', 'bad-header', 'truncated-frame', 'unknown-kid', 'auth-failed', 'replayed',
]);

/** mulberry32: a small seeded generator, enough for test input. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Genuine {
  readonly frame: Uint8Array;
  readonly metadata: Uint8Array;
  readonly payload: Uint8Array;
  readonly kid: bigint;
  readonly ctr: bigint;
  accepted: number;
}

interface Delivery {
  readonly frame: Uint8Array;
  readonly metadata: Uint8Array;
}

const keyOf = (frame: Uint8Array, metadata: Uint8Array): string =>
  `${Buffer.from(frame).toString('hex')}|${Buffer.from(metadata).toString('hex')}`;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function headerLengthOf(frame: Uint8Array): number {
  const config = frame[0] ?? 0;
  return 1 + (config & 0x80 ? ((config >> 4) & 7) + 1 : 0) + (config & 0x08 ? (config & 7) + 1 : 0);
}

class Mutator {
  readonly #random: () => number;
  constructor(random: () => number) {
    this.#random = random;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.#random() * maxExclusive);
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bigValue(): bigint {
    switch (this.int(4)) {
      case 0: return BigInt(this.int(8));
      case 1: return BigInt(this.int(70_000));
      case 2: return MAX_HEADER_VALUE - BigInt(this.int(3));
      default: return BigInt.asUintN(64, (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32)));
    }
  }

  /** One fuzz input derived from a genuine frame (or from nothing). */
  mutate(source: Genuine, others: readonly Genuine[]): Delivery {
    const { frame, metadata } = source;
    switch (this.int(11)) {
      case 0: { // flip 1-3 bits anywhere
        const out = frame.slice();
        for (let n = 1 + this.int(3); n > 0; n--) out[this.int(out.length)]! ^= 1 << this.int(8);
        return { frame: out, metadata };
      }
      case 1: // truncate
        return { frame: frame.slice(0, this.int(frame.length)), metadata };
      case 2: // extend
        return { frame: concat(frame, this.bytes(1 + this.int(20))), metadata };
      case 3: { // rewrite the header: other KID and/or CTR, same body
        const body = frame.subarray(headerLengthOf(frame));
        const kid = this.pick([source.kid, KID_A, KID_B, this.bigValue()]);
        const ctr = this.pick([source.ctr, source.ctr + 1n, source.ctr > 0n ? source.ctr - 1n : 5n, this.bigValue()]);
        const header = encodeHeader(kid, ctr);
        return { frame: header.ok ? concat(header.value, body) : frame, metadata };
      }
      case 4: { // the same values in a non-minimal header (a leading zero byte in the CTR)
        const body = frame.subarray(headerLengthOf(frame));
        const kidHeader = encodeHeader(source.kid, 0n);
        if (!kidHeader.ok) return { frame, metadata };
        const kidBytes = kidHeader.value.subarray(1);
        const ctrBytes = concat(new Uint8Array([0]), new Uint8Array(new BigUint64Array([source.ctr]).buffer).reverse().slice(1));
        const config = (kidHeader.value[0]! & 0xf0) | 0x08 | (ctrBytes.length - 1);
        return { frame: concat(new Uint8Array([config]), kidBytes, ctrBytes, body), metadata };
      }
      case 5: { // change the metadata
        const choice = this.int(3);
        if (choice === 0 && metadata.length > 0) {
          const out = metadata.slice();
          out[this.int(out.length)]! ^= 1 << this.int(8);
          return { frame, metadata: out };
        }
        if (choice === 1) return { frame, metadata: concat(metadata, this.bytes(1 + this.int(4))) };
        return { frame, metadata: metadata.length > 0 ? new Uint8Array(0) : this.bytes(1 + this.int(8)) };
      }
      case 6: { // overwrite random bytes
        const out = frame.slice();
        for (let n = 1 + this.int(4); n > 0; n--) out[this.int(out.length)] = this.int(256);
        return { frame: out, metadata };
      }
      case 7: { // splice: this frame's header on another frame's body
        const other = this.pick(others);
        return { frame: concat(frame.subarray(0, headerLengthOf(frame)), other.frame.subarray(headerLengthOf(other.frame))), metadata };
      }
      case 8: // random bytes
        return { frame: this.bytes(this.int(80)), metadata: this.int(2) ? new Uint8Array(0) : this.bytes(this.int(10)) };
      case 9: { // a valid header for a held key followed by random bytes
        const header = encodeHeader(this.pick([KID_A, KID_B]), this.bigValue());
        return { frame: concat(header.ok ? header.value : new Uint8Array(1), this.bytes(this.int(120))), metadata };
      }
      default: // far too large
        return { frame: concat(frame, new Uint8Array(MAX_FRAME_BYTES)), metadata };
    }
  }
}

async function fuzzSuite(suite: CipherSuite, random: () => number) {
  const mutator = new Mutator(random);
  const baseKeyA = mutator.bytes(suite.Nk);
  const baseKeyB = mutator.bytes(suite.Nk);
  const receiver = new SFrameReceiver(suite.id, {
    maxFrameBytes: MAX_FRAME_BYTES,
    resolveBaseKey: (kid) => (kid === KID_B ? baseKeyB : undefined),
  });
  expect((await receiver.addKey(KID_A, baseKeyA)).ok).toBe(true);

  // The key holders: genuine frames, in CTR order, for both KIDs.
  const senders = new Map<bigint, SFrameSender>();
  for (const [kid, key] of [[KID_A, baseKeyA], [KID_B, baseKeyB]] as const) {
    const sender = new SFrameSender(suite.id);
    await sender.setKey(kid, key);
    senders.set(kid, sender);
  }
  const genuine: Genuine[] = [];
  for (let i = 0; i < GENUINE_FRAMES_PER_SUITE; i++) {
    const kid = i % 4 === 3 ? KID_B : KID_A;
    const payload = mutator.bytes(mutator.int(300));
    const metadata = mutator.int(2) ? new Uint8Array(0) : mutator.bytes(1 + mutator.int(12));
    const sealed = await senders.get(kid)!.encrypt(payload, metadata);
    if (!sealed.ok) throw new Error(sealed.error.detail);
    const header = decodeHeader(sealed.value);
    if (!header.ok) throw new Error(header.error.detail);
    genuine.push({ frame: sealed.value, metadata, payload, kid, ctr: header.value.ctr, accepted: 0 });
  }
  const registry = new Map<string, Genuine>(genuine.map((g) => [keyOf(g.frame, g.metadata), g]));

  const batches = Math.ceil(FUZZ_FRAMES_PER_SUITE / BATCH_FUZZ_FRAMES);
  const releasePerBatch = Math.ceil(GENUINE_FRAMES_PER_SUITE / batches);
  let fuzzed = 0;
  let acceptedForgeries = 0;
  const thrown: unknown[] = [];
  const unknownCodes = new Set<string>();
  const codes = new Map<string, number>();

  for (let batch = 0; batch < batches; batch++) {
    const released = genuine.slice(0, Math.min(genuine.length, (batch + 1) * releasePerBatch));
    const fresh = genuine.slice(batch * releasePerBatch, (batch + 1) * releasePerBatch);
    const deliveries: Delivery[] = [];
    // Each newly released genuine frame arrives twice in its batch and once more in the next one.
    for (const g of fresh) deliveries.push(g, g);
    for (const g of genuine.slice((batch - 1) * releasePerBatch, batch * releasePerBatch)) if (batch > 0) deliveries.push(g);
    for (let i = 0; i < BATCH_FUZZ_FRAMES && fuzzed < FUZZ_FRAMES_PER_SUITE; i++, fuzzed++) {
      deliveries.push(mutator.mutate(mutator.pick(released), released));
    }
    // Shuffle so genuine frames race their own mutations.
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = mutator.int(i + 1);
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    const results = await Promise.all(
      deliveries.map((d) => receiver.decrypt(d.frame, d.metadata).then((r) => ({ d, r }), (e: unknown) => (thrown.push(e), undefined))),
    );
    for (const outcome of results) {
      if (outcome === undefined) continue;
      const { d, r } = outcome;
      if (r.ok) {
        const match = registry.get(keyOf(d.frame, d.metadata));
        if (match === undefined) {
          acceptedForgeries++;
          continue;
        }
        match.accepted++;
        expect(r.value.kid).toBe(match.kid);
        expect(r.value.ctr).toBe(match.ctr);
        expect(Buffer.from(r.value.payload).equals(Buffer.from(match.payload))).toBe(true);
      } else {
        codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
        if (!REFUSAL_CODES.has(r.error.code)) unknownCodes.add(r.error.code);
      }
    }
  }
  return { fuzzed, acceptedForgeries, thrown, unknownCodes, codes, genuine, keyCount: receiver.keyCount };
}

describe('SFrameReceiver under fuzzing', () => {
  const random = prng(SEED);
  let totalFuzzed = 0;
  afterAll(() => expect(totalFuzzed).toBeGreaterThanOrEqual(100_000));

  test.each(CIPHER_SUITES.map((s) => [s.name, s] as const))(
    '%s: only genuine frames are accepted, each exactly once',
    async (_name, suite) => {
      const outcome = await fuzzSuite(suite, random);
      totalFuzzed += outcome.fuzzed;
      expect(outcome.fuzzed).toBe(FUZZ_FRAMES_PER_SUITE);
      expect(outcome.thrown).toEqual([]);
      expect([...outcome.unknownCodes]).toEqual([]);
      expect(outcome.acceptedForgeries).toBe(0);
      const notOnce = outcome.genuine.filter((g) => g.accepted !== 1).map((g) => g.accepted);
      expect(notOnce).toEqual([]);
      expect(outcome.keyCount).toBeLessThanOrEqual(2);
      // The mutations reach every refusal path, not just the header parser.
      for (const code of REFUSAL_CODES) expect(outcome.codes.get(code) ?? 0).toBeGreaterThan(0);
    },
    120_000,
  );
});
