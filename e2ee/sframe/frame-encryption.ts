// Stateless SFrame frame protection (RFC 9605 §4.4.3 encryption, §4.4.4 decryption) under one FrameKey:
//   header = encode_sframe_header(CTR, KID); aad = header ‖ metadata
//   nonce  = sframe_salt XOR encode_big_endian(CTR, Nn)            (erratum 8321)
//   frame  = header ‖ AEAD.Encrypt(sframe_key, nonce, aad, plaintext)
// Counter allocation and replay protection belong to SFrameSender and SFrameReceiver.

import { aeadOpen, aeadSeal } from './aead.js';
import { concatBytes, type CryptoBytes } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { headerLength, writeHeader, type SFrameHeader } from './header.js';
import type { FrameKey } from './key-derivation.js';
import { frameNonce } from './nonce.js';

/**
 * Protects `payload` with CTR `ctr` (the caller guarantees it is unused under this key and <= 2^64-1).
 * The header is written straight into the output buffer, which is exactly header ‖ ciphertext ‖ tag
 * (byteOffset 0, spanning its whole ArrayBuffer). Error: 'crypto-failure' if WebCrypto fails.
 */
export async function encryptFrame(
  key: FrameKey,
  ctr: bigint,
  payload: CryptoBytes,
  metadata: Uint8Array,
): Promise<Result<CryptoBytes>> {
  const length = headerLength(key.kid, ctr);
  const out = new Uint8Array(length + payload.length + key.tagLength);
  writeHeader(out, 0, key.kid, ctr);
  const header = out.subarray(0, length);
  const aad = metadata.length === 0 ? header : concatBytes(header, metadata);
  try {
    await aeadSeal(key.aead, frameNonce(key.salt, ctr), aad, payload, out, length);
  } catch {
    return fail('crypto-failure', `WebCrypto refused to encrypt a ${payload.length}-byte frame`);
  }
  return ok(out);
}

/**
 * Opens a frame whose header (already decoded from its first `header.length` bytes) names this key.
 * Errors: 'truncated-frame' (no room for a tag), 'auth-failed'. Never rejects.
 */
export async function decryptFrame(
  key: FrameKey,
  header: SFrameHeader,
  frame: CryptoBytes,
  metadata: Uint8Array,
): Promise<Result<CryptoBytes>> {
  if (frame.length - header.length < key.tagLength) {
    return fail('truncated-frame', `frame has ${frame.length - header.length} bytes after the header, tag needs ${key.tagLength}`);
  }
  const headerBytes = frame.subarray(0, header.length);
  const aad = metadata.length === 0 ? headerBytes : concatBytes(headerBytes, metadata);
  const plaintext = await aeadOpen(key.aead, frameNonce(key.salt, header.ctr), aad, frame.subarray(header.length));
  if (plaintext === undefined) return fail('auth-failed', `frame for KID ${header.kid} CTR ${header.ctr} did not authenticate`);
  return ok(plaintext);
}
