import type { AuthenticationService, KeyPackage, PrivateKeyPackage } from 'ts-mls';
import {
  createCommit,
  createGroup,
  defaultProposalTypes,
  generateKeyPackage,
  generateKeyPackageWithKey,
  makeKeyPackageRef,
  protocolVersions,
  wireformats,
  type ClientState,
} from 'ts-mls';
import { base64Encode } from './bytes.js';
import { MLS_CIPHERSUITE_ID, mlsCipherSuite } from './ciphersuite.js';
import { createAuthService, type CredentialValidator } from './credential-validator.js';
import { fromLibraryError, MlsSessionError } from './errors.js';
import { decodeMlsMessage, encodeMlsMessage } from './mls-message.js';
import type { MemberSignatureKeys } from './signature-keys.js';
import type { ExternalSenderInfo } from './external-sender.js';
import {
  identityFromCredential,
  isParticipantIdentity,
  participantCredential,
  type ParticipantIdentity,
} from './participant-credential.js';

/**
 * KeyPackages (RFC 9420 §10): a member generates one to be added; the delivery service parses and
 * validates the ones it receives before proposing their Add.
 */

/** A KeyPackage this member generated, with its private keys. Used once, to create or join a group. */
export class MemberKeyPackage {
  private constructor(
    readonly identity: ParticipantIdentity,
    /** MLSMessage(KeyPackage) bytes to send to the delivery service. */
    readonly message: Uint8Array,
    /** @internal */ readonly keyPackage: KeyPackage,
    /** @internal */ readonly privateKeys: PrivateKeyPackage,
  ) {}

  /**
   * A fresh KeyPackage. `signatureKeys` are required for an issued recorder identity, whose credential is
   * bound to them (recorder-credential.ts); otherwise a fresh signature key pair is generated.
   */
  static async generate(identity: ParticipantIdentity, signatureKeys?: MemberSignatureKeys): Promise<MemberKeyPackage> {
    const cs = await mlsCipherSuite();
    const credential = participantCredential(identity);
    if (identity.issuance !== undefined && signatureKeys === undefined) {
      throw new MlsSessionError('bad-argument', 'an issued recorder credential needs the signature keys it was issued for');
    }
    const { publicPackage, privatePackage } =
      signatureKeys === undefined
        ? await generateKeyPackage({ credential, cipherSuite: cs })
        : await generateKeyPackageWithKey({
            credential,
            cipherSuite: cs,
            signatureKeyPair: { publicKey: signatureKeys.publicKey, signKey: signatureKeys.signKey },
          });
    const message = encodeMlsMessage({ version: protocolVersions.mls10, wireformat: wireformats.mls_key_package, keyPackage: publicPackage });
    return new MemberKeyPackage({ ...identity }, message, publicPackage, privatePackage);
  }
}

/** A received KeyPackage, parsed (not yet fully validated: see KeyPackageValidator). */
export interface ReceivedKeyPackage {
  readonly identity: ParticipantIdentity;
  readonly signaturePublicKey: Uint8Array;
  /** KeyPackageRef (RFC 9420 §5.2), base64: how a Welcome names this joiner. */
  readonly ref: string;
  /** @internal */ readonly keyPackage: KeyPackage;
}

/**
 * Parses MLSMessage(KeyPackage) bytes: wire format, protocol version, this profile's ciphersuite, and a
 * basic credential holding a canonical participant or recorder identity. Throws MlsSessionError.
 */
export async function parseKeyPackage(bytes: Uint8Array): Promise<ReceivedKeyPackage> {
  const message = decodeMlsMessage(bytes);
  if (message.wireformat !== wireformats.mls_key_package) throw new MlsSessionError('malformed-message', 'not a KeyPackage message');
  const keyPackage = message.keyPackage;
  if (message.version !== protocolVersions.mls10 || keyPackage.version !== protocolVersions.mls10) {
    throw new MlsSessionError('malformed-message', 'KeyPackage protocol version is not mls10');
  }
  if (keyPackage.cipherSuite !== MLS_CIPHERSUITE_ID) throw new MlsSessionError('malformed-message', 'KeyPackage ciphersuite is not 0x0001');
  let identity;
  try {
    identity = identityFromCredential(keyPackage.leafNode.credential);
  } catch (error) {
    throw new MlsSessionError('invalid-credential', 'KeyPackage credential is not a Chaperone identity', { cause: error });
  }
  if (!isParticipantIdentity(identity)) throw new MlsSessionError('invalid-credential', 'KeyPackage credential must be a participant or recorder');
  const cs = await mlsCipherSuite();
  const ref = base64Encode(await makeKeyPackageRef(keyPackage, cs.hash));
  return { identity, signaturePublicKey: keyPackage.leafNode.signaturePublicKey.slice(), ref, keyPackage };
}

/**
 * Validates a received KeyPackage exactly as members will when they commit its Add (RFC 9420 §10.1 and
 * §12.2: signatures of the KeyPackage and its leaf node, lifetime, capabilities, init key ≠ leaf key,
 * the credential through the same validator). It does so by letting ts-mls build — and then discard —
 * an Add commit in a private one-member probe group; the delivery service thereby never proposes an
 * Add that would make every member's commit fail.
 */
export class KeyPackageValidator {
  private probe: Promise<{ state: ClientState; authService: AuthenticationService }> | undefined;

  /**
   * `keyService` is the external sender whose signature recorder credentials must carry (the key service
   * passes its own); without it every recorder KeyPackage is refused. Room and group binding of recorder
   * credentials are the caller's to check (the probe group is not the call's group).
   */
  constructor(
    private readonly validator?: CredentialValidator,
    private readonly keyService?: ExternalSenderInfo,
  ) {}

  async validate(received: ReceivedKeyPackage): Promise<void> {
    const cs = await mlsCipherSuite();
    const { state, authService } = await this.probeGroup();
    try {
      await createCommit({
        context: { cipherSuite: cs, authService },
        state,
        extraProposals: [{ proposalType: defaultProposalTypes.add, add: { keyPackage: received.keyPackage } }],
      });
    } catch (error) {
      throw fromLibraryError(error, 'KeyPackage validation', 'invalid-credential');
    }
  }

  private probeGroup(): Promise<{ state: ClientState; authService: AuthenticationService }> {
    this.probe ??= (async () => {
      const cs = await mlsCipherSuite();
      const keyService = this.keyService;
      const authService = createAuthService({
        ...(this.validator === undefined ? {} : { validator: this.validator }),
        ...(keyService === undefined ? {} : { keyService: () => keyService }),
      });
      const own = await MemberKeyPackage.generate({ id: 'key-package-probe', kind: 'participant', name: 'probe' });
      const state = await createGroup({
        context: { cipherSuite: cs, authService },
        groupId: Uint8Array.of(0),
        keyPackage: own.keyPackage,
        privateKeyPackage: own.privateKeys,
      });
      return { state, authService };
    })();
    return this.probe;
  }
}
