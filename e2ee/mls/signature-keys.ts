import { zeroOutUint8Array } from 'ts-mls';
import { mlsCipherSuite } from './ciphersuite.js';

/**
 * A member's MLS signature key pair (RFC 9420 §5.1; Ed25519 in ciphersuite 0x0001), generated before its
 * KeyPackage when something must be bound to the public key first — a recorder asks the key service to
 * issue a credential for it (recorder-credential.ts). The private key never leaves this object except
 * into the member's own MLS state.
 */
export class MemberSignatureKeys {
  private constructor(
    readonly publicKey: Uint8Array,
    /** @internal */ readonly signKey: Uint8Array,
  ) {}

  static async generate(): Promise<MemberSignatureKeys> {
    const cs = await mlsCipherSuite();
    const { publicKey, signKey } = await cs.signature.keygen();
    return new MemberSignatureKeys(publicKey, signKey);
  }

  /** Best-effort zeroing once the key pair is no longer needed. */
  erase(): void {
    zeroOutUint8Array(this.signKey);
  }
}
