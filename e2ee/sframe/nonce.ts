// Per-frame nonce (RFC 9605 §4.4.3 as corrected by erratum 8321):
//   nonce = sframe_salt XOR encode_big_endian(CTR, Nn)
// CTR is at most 2^64-1 (8 bytes, §4.3), so only the last 8 bytes of the Nn-byte salt change. This runs
// for every frame, so the salt is split once per key into its fixed head and two 32-bit words, and the
// nonce is built with number arithmetic (no DataView, no BigInt arithmetic for CTRs below 2^53).

import type { CryptoBytes } from './bytes.js';

export interface NonceSalt {
  /** salt[0 .. Nn-8): copied unchanged into every nonce. */
  readonly head: Uint8Array;
  /** salt[Nn-8 .. Nn-4) and salt[Nn-4 .. Nn) as big-endian unsigned 32-bit words. */
  readonly high: number;
  readonly low: number;
}

const TWO_POW_32 = 0x1_0000_0000;

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Precomputes the nonce salt for an sframe_salt of Nn >= 8 bytes. */
export function nonceSalt(salt: Uint8Array): NonceSalt {
  const tail = salt.length - 8;
  return { head: salt.slice(0, tail), high: readUint32(salt, tail), low: readUint32(salt, tail + 4) };
}

/** A fresh nonce for `ctr` (0 <= ctr <= 2^64-1): a new array, so it can be handed to an asynchronous
 * WebCrypto call while later frames build their own. */
export function frameNonce(salt: NonceSalt, ctr: bigint): CryptoBytes {
  let high: number;
  let low: number;
  if (ctr <= 0x1f_ffff_ffff_ffffn) {
    const value = Number(ctr);
    high = Math.floor(value / TWO_POW_32);
    low = value >>> 0;
  } else {
    high = Number(ctr >> 32n);
    low = Number(ctr & 0xffff_ffffn);
  }
  high = (high ^ salt.high) >>> 0;
  low = (low ^ salt.low) >>> 0;
  const head = salt.head;
  const tail = head.length;
  const nonce = new Uint8Array(tail + 8);
  for (let i = 0; i < tail; i++) nonce[i] = head[i]!;
  nonce[tail] = high >>> 24;
  nonce[tail + 1] = (high >>> 16) & 0xff;
  nonce[tail + 2] = (high >>> 8) & 0xff;
  nonce[tail + 3] = high & 0xff;
  nonce[tail + 4] = low >>> 24;
  nonce[tail + 5] = (low >>> 16) & 0xff;
  nonce[tail + 6] = (low >>> 8) & 0xff;
  nonce[tail + 7] = low & 0xff;
  return nonce;
}
