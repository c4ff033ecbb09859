// The five SFrame cipher suites (RFC 9605 §4.5 Table 1; identifiers from the IANA registry, §8.1).
// Field names are the RFC's so each line can be checked against the table.

export const AES_128_CTR_HMAC_SHA256_80 = 0x0001;
export const AES_128_CTR_HMAC_SHA256_64 = 0x0002;
export const AES_128_CTR_HMAC_SHA256_32 = 0x0003;
export const AES_128_GCM_SHA256_128 = 0x0004;
export const AES_256_GCM_SHA512_128 = 0x0005;

export type CipherSuiteId =
  | typeof AES_128_CTR_HMAC_SHA256_80
  | typeof AES_128_CTR_HMAC_SHA256_64
  | typeof AES_128_CTR_HMAC_SHA256_32
  | typeof AES_128_GCM_SHA256_128
  | typeof AES_256_GCM_SHA512_128;

/** The project's default (see ARCHITECTURE.md, wire profile). */
export const DEFAULT_CIPHER_SUITE: CipherSuiteId = AES_128_GCM_SHA256_128;

export interface CipherSuite {
  readonly id: CipherSuiteId;
  readonly name: string;
  /** 'aes-ctr-hmac' is the compound AEAD of §4.5.1; 'aes-gcm' is AES-GCM with a 128-bit tag. */
  readonly aead: 'aes-ctr-hmac' | 'aes-gcm';
  /** The hash for HKDF (§4.4.2) and, for the compound AEAD, for HMAC (§4.5.1). */
  readonly hash: 'SHA-256' | 'SHA-512';
  /** Hash output size in bytes. */
  readonly Nh: number;
  /** AES key size in bytes inside the compound AEAD key (§4.5.1); 0 for AES-GCM ("n/a" in the table). */
  readonly Nka: number;
  /** AEAD key size in bytes: for the compound AEAD, Nka + Nh (enc_key ‖ auth_key). */
  readonly Nk: number;
  /** Nonce size in bytes. */
  readonly Nn: number;
  /** Tag (overhead) size in bytes. */
  readonly Nt: number;
}

const SUITES: ReadonlyMap<number, CipherSuite> = new Map<number, CipherSuite>(
  (
    [
      { id: AES_128_CTR_HMAC_SHA256_80, name: 'AES_128_CTR_HMAC_SHA256_80', aead: 'aes-ctr-hmac', hash: 'SHA-256', Nh: 32, Nka: 16, Nk: 48, Nn: 12, Nt: 10 },
      { id: AES_128_CTR_HMAC_SHA256_64, name: 'AES_128_CTR_HMAC_SHA256_64', aead: 'aes-ctr-hmac', hash: 'SHA-256', Nh: 32, Nka: 16, Nk: 48, Nn: 12, Nt: 8 },
      { id: AES_128_CTR_HMAC_SHA256_32, name: 'AES_128_CTR_HMAC_SHA256_32', aead: 'aes-ctr-hmac', hash: 'SHA-256', Nh: 32, Nka: 16, Nk: 48, Nn: 12, Nt: 4 },
      { id: AES_128_GCM_SHA256_128, name: 'AES_128_GCM_SHA256_128', aead: 'aes-gcm', hash: 'SHA-256', Nh: 32, Nka: 0, Nk: 16, Nn: 12, Nt: 16 },
      { id: AES_256_GCM_SHA512_128, name: 'AES_256_GCM_SHA512_128', aead: 'aes-gcm', hash: 'SHA-512', Nh: 64, Nka: 0, Nk: 32, Nn: 12, Nt: 16 },
    ] satisfies CipherSuite[]
  ).map((suite) => [suite.id, Object.freeze(suite)]),
);

/** All five suites, in identifier order. */
export const CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([...SUITES.values()]);

/** The suite with this identifier, or undefined for an identifier RFC 9605 does not define. */
export function cipherSuite(id: number): CipherSuite | undefined {
  return SUITES.get(id);
}
