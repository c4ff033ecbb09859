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

/** ArrayBuffer.prototype.transfer (ES2024), typed narrowly: the library's lib is ES2023. */
type GrowableBuffer = ArrayBuffer & { transfer?: (newByteLength: number) => ArrayBuffer };

/**
 * Returns header ‖ sealed as one exact-size buffer. This costs a frame-sized buffer that WebCrypto's own
 * output does not: touching fresh memory is most of the price of SFrame over raw AES-GCM for large frames.
 * Where ArrayBuffer.prototype.transfer exists (Node >= 21, Chromium >= 114, Firefox >= 122, Safari >= 17.4)
 * WebCrypto's output buffer is grown by the header length instead (an allocator may extend it in place,
 * as Node's often does) and the bytes are shifted with copyWithin (a memmove); otherwise a new buffer is
 * allocated and filled. Either way the copies are between equal alignments or within one buffer: a copy
 * between buffers at different alignments is an element-wise loop in Chromium, several times slower.
 */
function prependHeader(sealed: ArrayBuffer, header: Uint8Array): CryptoBytes {
  const sealedLength = sealed.byteLength;
  const growable = sealed as GrowableBuffer;
  let out: CryptoBytes;
  if (typeof growable.transfer === 'function') {
    out = new Uint8Array(growable.transfer(header.length + sealedLength));
  } else {
    out = new Uint8Array(header.length + sealedLength);
    out.set(new Uint8Array(sealed), 0);
  }
  out.copyWithin(header.length, 0, sealedLength);
  out.set(header, 0);
  return out;
}

/**
 * Protects `payload` with CTR `ctr` (the caller guarantees it is unused under this key and <= 2^64-1).
 * The result is exactly header ‖ ciphertext ‖ tag (byteOffset 0, spanning its whole ArrayBuffer).
 * Errors: 'crypto-failure' if WebCrypto fails. Never rejects.
 */
export async function encryptFrame(
  key: FrameKey,
  ctr: bigint,
  payload: CryptoBytes,
  metadata: Uint8Array,
): Promise<Result<CryptoBytes>> {
  let sealing = false;
  try {
    const header = new Uint8Array(headerLength(key.kid, ctr));
    writeHeader(header, 0, key.kid, ctr);
    const aad = metadata.length === 0 ? header : concatBytes(header, metadata);
    sealing = true;
    const sealed = await aeadSeal(key.aead, frameNonce(key.nonceSalt, ctr), aad, payload);
    sealing = false;
    return ok(prependHeader(sealed, header));
  } catch {
    return sealing
      ? fail('crypto-failure', `WebCrypto refused to encrypt a ${payload.length}-byte frame`)
      : fail('internal-error', 'unexpected exception in encryptFrame');
  }
}

/**
 * Starts AEAD.Decrypt for a frame whose header (decoded from its first `header.length` bytes) names this
 * key. Resolves to the plaintext; rejects when the frame does not authenticate. The caller checks that
 * the frame can hold a tag. This is the receiver's hot path: WebCrypto's promise, no wrapper.
 */
export function openFrame(key: FrameKey, header: SFrameHeader, frame: CryptoBytes, metadata: Uint8Array): Promise<ArrayBuffer> {
  const headerBytes = frame.subarray(0, header.length);
  const aad = metadata.length === 0 ? headerBytes : concatBytes(headerBytes, metadata);
  return aeadOpen(key.aead, frameNonce(key.nonceSalt, header.ctr), aad, frame.subarray(header.length));
}

/**
 * {@link openFrame} as a Result. Errors: 'truncated-frame' (no room for a tag), 'auth-failed'.
 * Never rejects.
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
  try {
    return ok(new Uint8Array(await openFrame(key, header, frame, metadata)));
  } catch {
    return fail('auth-failed', `frame for KID ${header.kid} CTR ${header.ctr} did not authenticate`);
  }
}
