// SFrame key derivation (RFC 9605 §4.4.2):
//   sframe_secret = HKDF-Extract("", base_key)
//   sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  + KID + cipher_suite, AEAD.Nk)
//   sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " + KID + cipher_suite, AEAD.Nn)
// with KID as 8 big-endian bytes (not the header's compact form) and cipher_suite as 2 big-endian bytes;
// the hash is the suite's. WebCrypto's HKDF performs Extract (with the empty salt) then Expand in one
// deriveBits call, so each output is one call with its own label as `info`.

import { ascii, cryptoBytes, isBytes, type CryptoBytes } from './bytes.js';
import { aeadTagLength, importAeadKeys, type AeadKeys } from './aead.js';
import { fail, ok, type Result } from './errors.js';
import { nonceSalt, type NonceSalt } from './nonce.js';
import { isHeaderValue } from './header.js';
import type { CipherSuite } from './suites.js';

const KEY_LABEL_PREFIX = ascii('SFrame 1.0 Secret key ');
const SALT_LABEL_PREFIX = ascii('SFrame 1.0 Secret salt ');
const EMPTY_SALT = new Uint8Array(0);

/** Everything needed to protect frames under one (KID, base_key): imported keys and the salt. */
export interface FrameKey {
  readonly suite: CipherSuite;
  readonly kid: bigint;
  readonly aead: AeadKeys;
  /** sframe_salt (Nn bytes), XORed with the CTR to form each nonce. */
  readonly salt: CryptoBytes;
  /** The salt, precomputed for frameNonce(). */
  readonly nonceSalt: NonceSalt;
  /** Nt, cached for the hot path. */
  readonly tagLength: number;
}

function label(prefix: Uint8Array, kid: bigint, suite: CipherSuite): CryptoBytes {
  const out = new Uint8Array(prefix.length + 8 + 2);
  out.set(prefix, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(prefix.length, kid);
  view.setUint16(prefix.length + 8, suite.id);
  return out;
}

/** sframe_key_label = "SFrame 1.0 Secret key " + KID + cipher_suite. */
export function sframeKeyLabel(kid: bigint, suite: CipherSuite): CryptoBytes {
  return label(KEY_LABEL_PREFIX, kid, suite);
}

/** sframe_salt_label = "SFrame 1.0 Secret salt " + KID + cipher_suite. */
export function sframeSaltLabel(kid: bigint, suite: CipherSuite): CryptoBytes {
  return label(SALT_LABEL_PREFIX, kid, suite);
}

/**
 * The raw sframe_key (Nk bytes) and sframe_salt (Nn bytes). Exposed for the RFC test vectors; frame
 * protection uses {@link deriveFrameKey}, which keeps the key only as non-extractable CryptoKeys.
 * Rejects if the platform refuses the base key.
 */
export async function deriveKeyAndSalt(
  suite: CipherSuite,
  kid: bigint,
  baseKey: Uint8Array,
): Promise<{ key: CryptoBytes; salt: CryptoBytes }> {
  const subtle = crypto.subtle;
  const secret = await subtle.importKey('raw', cryptoBytes(baseKey), 'HKDF', false, ['deriveBits']);
  const hkdf = (info: CryptoBytes, length: number) =>
    subtle.deriveBits({ name: 'HKDF', hash: suite.hash, salt: EMPTY_SALT, info }, secret, length * 8);
  const [key, salt] = await Promise.all([
    hkdf(sframeKeyLabel(kid, suite), suite.Nk),
    hkdf(sframeSaltLabel(kid, suite), suite.Nn),
  ]);
  return { key: new Uint8Array(key), salt: new Uint8Array(salt) };
}

/**
 * Derives and imports the frame key for (KID, base_key) under `suite`. The raw sframe_key is zeroed once
 * imported. Errors: 'bad-argument' (KID out of range), 'bad-key' (empty or non-byte base key, or the
 * platform refused it).
 */
export async function deriveFrameKey(suite: CipherSuite, kid: bigint, baseKey: Uint8Array): Promise<Result<FrameKey>> {
  if (!isHeaderValue(kid)) return fail('bad-argument', 'kid must be a bigint in [0, 2^64-1]');
  if (!isBytes(baseKey) || baseKey.length === 0) return fail('bad-key', 'base key must be a non-empty Uint8Array');
  let raw: { key: CryptoBytes; salt: CryptoBytes } | undefined;
  try {
    raw = await deriveKeyAndSalt(suite, kid, baseKey);
    const aead = await importAeadKeys(suite, raw.key);
    return ok({ suite, kid, aead, salt: raw.salt, nonceSalt: nonceSalt(raw.salt), tagLength: aeadTagLength(aead) });
  } catch {
    return fail('bad-key', `the platform refused to derive or import a ${suite.name} key`);
  } finally {
    raw?.key.fill(0);
  }
}
