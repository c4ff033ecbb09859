// SFrame throughput against raw WebCrypto AES-GCM, measured in whichever runtime imports this module:
// Node (bench/sframe.ts) and a Chromium dedicated worker (sframe-worker.ts). It only uses what both
// runtimes share: WebCrypto, performance.now() and the e2ee library.
//
// For each frame size and operation three contenders run through the same pipelined driver (the same
// number of operations in flight), all AES-128-GCM with a pre-imported key and a fresh 12-byte IV:
// - ours:  SFrameSender.encrypt / SFrameReceiver.decrypt, suite 0x0004 (AES_128_GCM_SHA256_128);
// - raw:   crypto.subtle.encrypt/decrypt of the same plaintext, nothing else;
// - floor: the least any RFC 9605 frame needs on top of raw: encrypt passes a header as AAD and puts
//          it in front of ciphertext ‖ tag in one buffer (growing WebCrypto's output buffer with
//          ArrayBuffer.prototype.transfer where it exists, else allocating one), decrypt passes views of a
//          frame (header as AAD, the rest as ciphertext). It shows how much of ours/raw is inherent to
//          the wire format rather than to this library.
// The machines are shared and their load drifts, so rounds are short and interleaved (ours, raw, floor,
// floor, raw, ours, ...), each figure is a median over rounds, and each ratio is the median of the ratios
// within the same group of adjacent rounds: a load spike skews one group, not the result.

import { AES_128_GCM_SHA256_128, SFrameReceiver, SFrameSender, type Result } from '../../e2ee/sframe/index.js';

export type Operation = 'encrypt' | 'decrypt';

export interface MeasureOptions {
  readonly runtime: string;
  readonly sizes: readonly number[];
  /** Wall-clock budget per (size, operation) case, shared by the contenders. */
  readonly caseMs: number;
  /** Operations kept in flight at once, for every contender alike. */
  readonly depth: number;
}

export interface CaseResult {
  runtime: string;
  size: number;
  op: Operation;
  depth: number;
  /** Median throughput over ours' rounds, MiB of payload per second. */
  ours_mibps: number;
  /** Median throughput over raw's rounds. */
  raw_mibps: number;
  /** Median over round groups of ours/raw throughput. */
  ratio: number;
  /** Median throughput of the wire-format floor (see above). */
  floor_mibps: number;
  /** Median over round groups of ours/floor throughput. */
  ratio_to_floor: number;
  rounds: number;
  frames_per_round: number;
}

const MIB = 1024 * 1024;
const KID = 1n;
/** The header of KID 1 with a CTR below 8: one byte (RFC 9605 §4.3), as most frames of a stream have
 * 2-3; the floor's exact header bytes do not matter, only that they are authenticated. */
const FLOOR_HEADER = new Uint8Array([0x10, 0x01]);
/** Operations per timed round: rounds of roughly 5-20 ms, long against timer resolution (Chromium coarsens
 * performance.now() to 100 µs) and short against load drift. */
const roundOpsFor = (size: number): number => (size >= 16_384 ? 128 : 512);
const MIN_ROUND_GROUPS = 8;

type Op = (index: number) => Promise<unknown>;

interface Contender {
  /** Untimed preparation before each of this contender's rounds (e.g. a fresh receiver). */
  prepare?: () => Promise<void>;
  op: Op;
  /** Untimed check after each round, so checking results adds no promise layer to the timed ops. */
  verify?: () => Promise<void>;
}

/** Runs `count` operations keeping `depth` in flight. */
async function pipelined(count: number, depth: number, op: Op): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, lane));
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65_536) crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)));
  return out;
}

let ivCounter = 0;
function freshIv(): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, ivCounter++);
  return iv;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function compare(size: number, options: MeasureOptions, ours: Contender, raw: Contender, floor: Contender) {
  const roundOps = roundOpsFor(size);
  /** Throughput of one round, MiB/s. */
  const runRound = async (contender: Contender): Promise<number> => {
    await contender.prepare?.();
    const start = performance.now();
    await pipelined(roundOps, options.depth, contender.op);
    const seconds = (performance.now() - start) / 1000;
    await contender.verify?.();
    return (roundOps * size) / MIB / seconds;
  };
  for (let i = 0; i < 2; i++) for (const contender of [ours, raw, floor]) await runRound(contender); // warm-up
  const rates = { ours: [] as number[], raw: [] as number[], floor: [] as number[] };
  const toRaw: number[] = [];
  const toFloor: number[] = [];
  const deadline = performance.now() + options.caseMs;
  for (let group = 0; group < MIN_ROUND_GROUPS || performance.now() < deadline; group++) {
    const order = group % 2 === 0 ? (['ours', 'raw', 'floor'] as const) : (['floor', 'raw', 'ours'] as const);
    const rate = { ours: 0, raw: 0, floor: 0 };
    for (const name of order) rate[name] = await runRound({ ours, raw, floor }[name]);
    for (const name of order) rates[name].push(rate[name]);
    toRaw.push(rate.ours / rate.raw);
    toFloor.push(rate.ours / rate.floor);
  }
  return {
    ours: median(rates.ours),
    raw: median(rates.raw),
    floor: median(rates.floor),
    ratio: median(toRaw),
    ratioToFloor: median(toFloor),
    rounds: toRaw.length,
    roundOps,
  };
}

export async function measureSFrame(options: MeasureOptions): Promise<CaseResult[]> {
  const subtle = crypto.subtle;
  const baseKey = randomBytes(16);
  const rawKey = await subtle.importKey('raw', randomBytes(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const results: CaseResult[] = [];

  for (const size of options.sizes) {
    const payload = randomBytes(size);
    const roundOps = roundOpsFor(size);

    // encrypt
    const sender = new SFrameSender(AES_128_GCM_SHA256_128);
    await sender.setKey(KID, baseKey);
    // Ours' results are checked after each round (every frame must succeed, or the figures are void).
    const outcomes: Promise<Result<unknown>>[] = new Array(roundOps);
    const verifyOutcomes = async (what: string) => {
      for (const outcome of await Promise.all(outcomes)) if (!outcome.ok) throw new Error(`${what} failed: ${outcome.error.code}`);
    };
    const encrypt = await compare(
      size,
      options,
      {
        op: (i) => (outcomes[i] = sender.encrypt(payload)),
        verify: () => verifyOutcomes('encrypt'),
      },
      { op: () => subtle.encrypt({ name: 'AES-GCM', iv: freshIv() }, rawKey, payload) },
      {
        op: async () => {
          const header = FLOOR_HEADER.slice();
          const sealed = (await subtle.encrypt({ name: 'AES-GCM', iv: freshIv(), additionalData: header }, rawKey, payload)) as ArrayBuffer & {
            transfer?: (length: number) => ArrayBuffer;
          };
          // The cheapest placement on both runtimes (see e2ee/sframe/frame-encryption.ts).
          const sealedLength = sealed.byteLength;
          let frame: Uint8Array;
          if (typeof sealed.transfer === 'function') {
            frame = new Uint8Array(sealed.transfer(header.length + sealedLength));
          } else {
            frame = new Uint8Array(header.length + sealedLength);
            frame.set(new Uint8Array(sealed), 0);
          }
          frame.copyWithin(header.length, 0, sealedLength);
          frame.set(header, 0);
        },
      },
    );

    // decrypt: pools of distinct frames (the receiver refuses replays, so ours gets a fresh receiver for
    // each round); raw opens AES-GCM ciphertexts of the same plaintext, floor opens views of frames.
    const frames: Uint8Array[] = [];
    for (let i = 0; i < roundOps; i++) {
      const sealed = await sender.encrypt(payload);
      if (!sealed.ok) throw new Error(`encrypt failed: ${sealed.error.code}`);
      frames.push(sealed.value);
    }
    const rawSealed: { iv: Uint8Array<ArrayBuffer>; data: Uint8Array<ArrayBuffer> }[] = [];
    const floorFrames: { iv: Uint8Array<ArrayBuffer>; frame: Uint8Array<ArrayBuffer> }[] = [];
    for (let i = 0; i < roundOps; i++) {
      const iv = freshIv();
      rawSealed.push({ iv, data: new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, rawKey, payload)) });
      const floorIv = freshIv();
      const sealed = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: floorIv, additionalData: FLOOR_HEADER }, rawKey, payload));
      const frame = new Uint8Array(FLOOR_HEADER.length + sealed.length);
      frame.set(FLOOR_HEADER, 0);
      frame.set(sealed, FLOOR_HEADER.length);
      floorFrames.push({ iv: floorIv, frame });
    }
    let receiver = new SFrameReceiver(AES_128_GCM_SHA256_128);
    const decrypt = await compare(
      size,
      options,
      {
        prepare: async () => {
          receiver = new SFrameReceiver(AES_128_GCM_SHA256_128);
          const added = await receiver.addKey(KID, baseKey);
          if (!added.ok) throw new Error(`addKey failed: ${added.error.code}`);
        },
        op: (i) => (outcomes[i] = receiver.decrypt(frames[i]!)),
        verify: () => verifyOutcomes('decrypt'),
      },
      // Every contender builds a new 12-byte IV per call, as encrypt does (a decryptor forms each nonce).
      { op: (i) => subtle.decrypt({ name: 'AES-GCM', iv: rawSealed[i]!.iv.slice() }, rawKey, rawSealed[i]!.data) },
      {
        op: (i) => {
          const { iv, frame } = floorFrames[i]!;
          const headerLength = FLOOR_HEADER.length;
          return subtle.decrypt(
            { name: 'AES-GCM', iv: iv.slice(), additionalData: frame.subarray(0, headerLength) },
            rawKey,
            frame.subarray(headerLength),
          );
        },
      },
    );

    for (const [op, figures] of [['encrypt', encrypt], ['decrypt', decrypt]] as const) {
      results.push({
        runtime: options.runtime,
        size,
        op,
        depth: options.depth,
        ours_mibps: round1(figures.ours),
        raw_mibps: round1(figures.raw),
        ratio: round3(figures.ratio),
        floor_mibps: round1(figures.floor),
        ratio_to_floor: round3(figures.ratioToFloor),
        rounds: figures.rounds,
        frames_per_round: figures.roundOps,
      });
    }
  }
  return results;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
