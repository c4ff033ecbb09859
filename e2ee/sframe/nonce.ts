import type { CryptoBytes } from './bytes.js';

// Per-frame nonce (RFC 9605 §4.4.3 as corrected by erratum 8321):
//   nonce = sframe_salt XOR encode_big_endian(CTR, Nn)
// CTR is at most 2^64-1 (8 bytes, §4.3), so only the last 8 bytes of the Nn-byte salt change.

/** A fresh nonce for `ctr` under `salt` (Nn >= 8 bytes). A new array each time: the caller may hand it to
 * an asynchronous WebCrypto call without worrying about later frames reusing the buffer. */
export function frameNonce(salt: CryptoBytes, ctr: bigint): CryptoBytes {
  const nonce = salt.slice();
  const view = new DataView(nonce.buffer);
  const tail = nonce.length - 8;
  view.setBigUint64(tail, view.getBigUint64(tail) ^ ctr);
  return nonce;
}
