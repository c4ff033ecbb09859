// The two AEAD families of RFC 9605 §4.5 on WebCrypto:
// - AES-GCM with a 128-bit tag (suites 0x0004, 0x0005);
// - the compound AES-CTR + HMAC AEAD of §4.5.1 (suites 0x0001-0x0003): encrypt-then-MAC, the tag being
//   HMAC(auth_key, aad_len ‖ ct_len ‖ tag_len ‖ nonce ‖ aad ‖ ct) truncated to Nt bytes.
// Keys are imported once per SFrame key, non-extractable; nothing here imports a key per frame.
// Both functions return WebCrypto's own promise for AES-GCM (no extra async layer on the hot path).

import { constantTimeEqual, writeUint64, type CryptoBytes } from './bytes.js';
import type { CipherSuite } from './suites.js';

/** The platform's key handle: PlatformCryptoKey in the library build, CryptoKey under DOM types. */
export type SubtleKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export type AeadKeys =
  | { readonly kind: 'aes-gcm'; readonly key: SubtleKey }
  | {
      readonly kind: 'aes-ctr-hmac';
      /** enc_key = sframe_key[..Nka] (§4.5.1). */
      readonly encKey: SubtleKey;
      /** auth_key = sframe_key[Nka..] (§4.5.1). */
      readonly authKey: SubtleKey;
      readonly tagLength: number;
    };

const GCM_TAG_BITS = 128;
/** §4.5.1: initial_counter = nonce ‖ 0x00000000, so AES-CTR counts in the low 32 bits. */
const CTR_COUNTER_BITS = 32;
const CTR_BLOCK_BYTES = 16;
/** aad_len ‖ ct_len ‖ tag_len, each encode_big_endian(x, 8) (§4.5.1 compute_tag). */
const AUTH_LENGTHS_BYTES = 24;

/**
 * Imports the AEAD key(s) for `sframeKey` (Nk bytes). For the compound AEAD the key is split into enc_key
 * and auth_key (§4.5.1 derive_subkeys). Rejects if the platform refuses the key.
 */
export async function importAeadKeys(suite: CipherSuite, sframeKey: CryptoBytes): Promise<AeadKeys> {
  const subtle = crypto.subtle;
  if (suite.aead === 'aes-gcm') {
    const key = await subtle.importKey('raw', sframeKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
    return { kind: 'aes-gcm', key };
  }
  const [encKey, authKey] = await Promise.all([
    subtle.importKey('raw', sframeKey.subarray(0, suite.Nka), 'AES-CTR', false, ['encrypt', 'decrypt']),
    subtle.importKey('raw', sframeKey.subarray(suite.Nka), { name: 'HMAC', hash: suite.hash }, false, ['sign']),
  ]);
  return { kind: 'aes-ctr-hmac', encKey, authKey, tagLength: suite.Nt };
}

/** Tag size in bytes (Nt). */
export function aeadTagLength(keys: AeadKeys): number {
  return keys.kind === 'aes-gcm' ? GCM_TAG_BITS / 8 : keys.tagLength;
}

function ctrInitialCounter(nonce: CryptoBytes): CryptoBytes {
  const counter = new Uint8Array(CTR_BLOCK_BYTES);
  counter.set(nonce, 0);
  return counter;
}

/** compute_tag (§4.5.1), untruncated: HMAC over aad_len ‖ ct_len ‖ tag_len ‖ nonce ‖ aad ‖ ct. */
async function hmacTag(
  authKey: SubtleKey,
  tagLength: number,
  nonce: CryptoBytes,
  aad: CryptoBytes,
  ct: CryptoBytes,
): Promise<CryptoBytes> {
  const authData = new Uint8Array(AUTH_LENGTHS_BYTES + nonce.length + aad.length + ct.length);
  writeUint64(authData, 0, aad.length);
  writeUint64(authData, 8, ct.length);
  writeUint64(authData, 16, tagLength);
  let offset = AUTH_LENGTHS_BYTES;
  authData.set(nonce, offset);
  offset += nonce.length;
  authData.set(aad, offset);
  offset += aad.length;
  authData.set(ct, offset);
  return new Uint8Array(await crypto.subtle.sign('HMAC', authKey, authData));
}

/**
 * AEAD.Encrypt(key, nonce, aad, plaintext): resolves to ciphertext ‖ tag (plaintext.length + Nt bytes).
 * Rejects only if the platform fails.
 */
export function aeadSeal(keys: AeadKeys, nonce: CryptoBytes, aad: CryptoBytes, plaintext: CryptoBytes): Promise<ArrayBuffer> {
  if (keys.kind === 'aes-gcm') {
    return crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: GCM_TAG_BITS }, keys.key, plaintext);
  }
  return ctrHmacSeal(keys, nonce, aad, plaintext);
}

async function ctrHmacSeal(
  keys: Extract<AeadKeys, { kind: 'aes-ctr-hmac' }>,
  nonce: CryptoBytes,
  aad: CryptoBytes,
  plaintext: CryptoBytes,
): Promise<ArrayBuffer> {
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-CTR', counter: ctrInitialCounter(nonce), length: CTR_COUNTER_BITS },
      keys.encKey,
      plaintext,
    ),
  );
  const tag = await hmacTag(keys.authKey, keys.tagLength, nonce, aad, ct);
  const sealed = new Uint8Array(ct.length + keys.tagLength);
  sealed.set(ct, 0);
  sealed.set(tag.subarray(0, keys.tagLength), ct.length);
  return sealed.buffer;
}

/** Why aeadOpen rejected: the input did not authenticate (or cannot hold a tag). */
export class AeadAuthenticationError extends Error {
  constructor() {
    super('AEAD authentication failed');
    this.name = 'AeadAuthenticationError';
  }
}

/**
 * AEAD.Decrypt(key, nonce, aad, ciphertext ‖ tag): resolves to the plaintext; rejects when authentication
 * fails, the input cannot hold a tag, or the platform fails (callers treat every rejection as an
 * authentication failure: RFC 9605 §4.4.4, the frame is discarded). The compound AEAD checks the tag in
 * constant time before decrypting anything (§4.5.1).
 */
export function aeadOpen(keys: AeadKeys, nonce: CryptoBytes, aad: CryptoBytes, sealed: CryptoBytes): Promise<ArrayBuffer> {
  if (keys.kind === 'aes-gcm') {
    if (sealed.length < GCM_TAG_BITS / 8) return Promise.reject(new AeadAuthenticationError());
    return crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: GCM_TAG_BITS }, keys.key, sealed);
  }
  return ctrHmacOpen(keys, nonce, aad, sealed);
}

async function ctrHmacOpen(
  keys: Extract<AeadKeys, { kind: 'aes-ctr-hmac' }>,
  nonce: CryptoBytes,
  aad: CryptoBytes,
  sealed: CryptoBytes,
): Promise<ArrayBuffer> {
  const ctLength = sealed.length - keys.tagLength;
  if (ctLength < 0) throw new AeadAuthenticationError();
  const ct = sealed.subarray(0, ctLength);
  const tag = sealed.subarray(ctLength);
  const expected = await hmacTag(keys.authKey, keys.tagLength, nonce, aad, ct);
  if (!constantTimeEqual(expected.subarray(0, keys.tagLength), tag)) throw new AeadAuthenticationError();
  return crypto.subtle.decrypt({ name: 'AES-CTR', counter: ctrInitialCounter(nonce), length: CTR_COUNTER_BITS }, keys.encKey, ct);
}
