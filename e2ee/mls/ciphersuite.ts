import type { CiphersuiteImpl } from 'ts-mls';
import { getCiphersuiteImpl } from 'ts-mls';

/** The wire profile's one MLS ciphersuite (RFC 9420 §17.1, value 0x0001; all of it WebCrypto-capable). */
export const MLS_CIPHERSUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;
export const MLS_CIPHERSUITE_ID = 0x0001;
/** RFC 9420 §6: ProtocolVersion mls10. */
export const MLS_PROTOCOL_VERSION = 1;

let cached: Promise<CiphersuiteImpl> | undefined;

/** The ciphersuite implementation, created once per realm. */
export function mlsCipherSuite(): Promise<CiphersuiteImpl> {
  cached ??= getCiphersuiteImpl(MLS_CIPHERSUITE_NAME);
  return cached;
}
