// SFrame throughput against raw WebCrypto AES-GCM, measured in whichever runtime imports this module:
// Node (bench/sframe.ts imports a bundle of it) and a Chromium dedicated worker (sframe-worker.ts).
// It only uses what both runtimes share: WebCrypto, performance.now() and the e2ee library.
//
// For each frame size and operation, "ours" is SFrameSender.encrypt / SFrameReceiver.decrypt with suite
// 0x0004 (AES_128_GCM_SHA256_128) and "raw" is crypto.subtle AES-128-GCM on the same plaintext with a
// pre-imported key and a fresh 12-byte IV per call. Both run through the same pipelined driver (the same
// number of operations in flight) in short rounds interleaved ours, raw, raw, ours, ... The machines are
// shared and their load drifts, so each figure is a median over rounds and the ratio is the median of
// the ratios of adjacent (ours, raw) round pairs: a load spike skews one pair, not the result.

import { AES_128_GCM_SHA256_128, SFrameReceiver, SFrameSender } from '../../e2ee/sframe/index.js';

export type Operation = 'encrypt' | 'decrypt';

export interface MeasureOptions {
  readonly runtime: string;
  readonly sizes: readonly number[];
  /** Wall-clock budget per (size, operation) case, shared by ours and raw. */
  readonly caseMs: number;
  /** Operations kept in flight at once, for ours and raw alike. */
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
  /** Median over adjacent round pairs of ours/raw throughput. */
  ratio: number;
  /** Round pairs measured, and frames per round. */
  rounds: number;
  frames_per_round: number;
}

const MIB = 1024 * 1024;
const KID = 1n;
/** Operations per timed round: rounds of roughly 5-20 ms, long against timer resolution (Chromium coarsens
 * performance.now() to 100 µs) and short against load drift. */
const roundOpsFor = (size: number): number => (size >= 16_384 ? 64 : 512);
const MIN_ROUND_PAIRS = 8;

type Op = (index: number) => Promise<unknown>;

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

function ivFor(counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, counter);
  return iv;
}

interface Side {
  /** Untimed preparation before each of this side's rounds (e.g. a fresh receiver). */
  prepare?: () => Promise<void>;
  op: Op;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function compare(size: number, options: MeasureOptions, ours: Side, raw: Side) {
  const roundOps = roundOpsFor(size);
  /** Throughput of one round, MiB/s. */
  const runRound = async (side: Side): Promise<number> => {
    await side.prepare?.();
    const start = performance.now();
    await pipelined(roundOps, options.depth, side.op);
    const seconds = (performance.now() - start) / 1000;
    return (roundOps * size) / MIB / seconds;
  };
  for (let i = 0; i < 2; i++) {
    await runRound(ours); // warm-up: JIT, key caches, thread pools
    await runRound(raw);
  }
  const oursRounds: number[] = [];
  const rawRounds: number[] = [];
  const pairRatios: number[] = [];
  const deadline = performance.now() + options.caseMs;
  for (let pair = 0; pair < MIN_ROUND_PAIRS || performance.now() < deadline; pair++) {
    let oursRate: number;
    let rawRate: number;
    if (pair % 2 === 0) {
      oursRate = await runRound(ours);
      rawRate = await runRound(raw);
    } else {
      rawRate = await runRound(raw);
      oursRate = await runRound(ours);
    }
    oursRounds.push(oursRate);
    rawRounds.push(rawRate);
    pairRatios.push(oursRate / rawRate);
  }
  return { ours: median(oursRounds), raw: median(rawRounds), ratio: median(pairRatios), rounds: pairRatios.length, roundOps };
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
    let rawCounter = 0;
    const encrypt = await compare(
      size,
      options,
      {
        op: async () => {
          const sealed = await sender.encrypt(payload);
          if (!sealed.ok) throw new Error(`encrypt failed: ${sealed.error.code}`);
        },
      },
      { op: () => subtle.encrypt({ name: 'AES-GCM', iv: ivFor(rawCounter++) }, rawKey, payload) },
    );

    // decrypt: a pool of distinct frames (the receiver refuses replays), opened by a fresh receiver
    // each round; raw opens a pool of AES-GCM ciphertexts of the same plaintext.
    const frames: Uint8Array[] = [];
    for (let i = 0; i < roundOps; i++) {
      const sealed = await sender.encrypt(payload);
      if (!sealed.ok) throw new Error(`encrypt failed: ${sealed.error.code}`);
      frames.push(sealed.value);
    }
    const rawSealed: { iv: Uint8Array<ArrayBuffer>; data: Uint8Array<ArrayBuffer> }[] = [];
    for (let i = 0; i < roundOps; i++) {
      const iv = ivFor(rawCounter++);
      rawSealed.push({ iv, data: new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, rawKey, payload)) });
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
        op: async (i) => {
          const opened = await receiver.decrypt(frames[i]!);
          if (!opened.ok) throw new Error(`decrypt failed: ${opened.error.code}`);
        },
      },
      { op: (i) => subtle.decrypt({ name: 'AES-GCM', iv: rawSealed[i]!.iv }, rawKey, rawSealed[i]!.data) },
    );

    for (const [op, figures] of [['encrypt', encrypt], ['decrypt', decrypt]] as const) {
      results.push({
        runtime: options.runtime,
        size,
        op,
        depth: options.depth,
        ours_mibps: round1(figures.ours),
        raw_mibps: round1(figures.raw),
        ratio: Math.round(figures.ratio * 1000) / 1000,
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
