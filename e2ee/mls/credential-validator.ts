import type { AuthenticationService, Credential } from 'ts-mls';
import { bytesEqual } from './bytes.js';
import type { ExternalSenderInfo } from './external-sender.js';
import { identityFromCredential, isIssuedRecorder, type ChaperoneIdentity, type ParticipantIdentity } from './participant-credential.js';
import { recorderCredentialProblem } from './recorder-credential.js';

/**
 * The credential-validation hook (RFC 9420 §5.3.1: "the application MUST validate credentials"). ts-mls
 * calls its AuthenticationService for every credential it meets — KeyPackages being added, every leaf
 * of a tree it joins, committers' new leaf nodes, the group's external senders.
 *
 * Layering: the credential must first decode as a canonical Chaperone identity (participant-credential.ts),
 * or it is refused; a participant or recorder identity is then put to the CredentialValidator; the
 * key service's identity is accepted only with the exact signature key and identity this member was told
 * to expect. A recorder must hold a credential the key service issued for this group, unexpired, bound
 * to the very leaf key presenting it (recorder-credential.ts); a self-made recorder identity (format 1)
 * or one signed by any other key is refused before the CredentialValidator is even asked.
 */
export interface CredentialValidator {
  validateMember(identity: ParticipantIdentity, signaturePublicKey: Uint8Array): boolean | Promise<boolean>;
}

/** Adds no check beyond the built-in ones (well-formed identity; issued recorder credentials). */
export const wellFormedCredentials: CredentialValidator = {
  validateMember: () => true,
};

export interface AuthServiceOptions {
  validator?: CredentialValidator;
  /** The key service this member expects as the group's only external sender, when known. */
  keyService?: () => ExternalSenderInfo | undefined;
  /**
   * The group a recorder credential must name. Undefined only where the group is not known yet (while
   * joining: MlsSession.join checks the tree again right after) or does not matter (the key service's
   * KeyPackage probe, which checks room and group itself).
   */
  groupId?: () => Uint8Array | undefined;
  /** Seconds since the epoch; default the clock. */
  nowSec?: () => number;
}

/** The ts-mls AuthenticationService for a session. Not serialized with the state: re-created on load. */
export function createAuthService(options: AuthServiceOptions = {}): AuthenticationService {
  const validator = options.validator ?? wellFormedCredentials;
  return {
    async validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
      let identity: ChaperoneIdentity;
      try {
        identity = identityFromCredential(credential);
      } catch {
        return false;
      }
      if (identity.kind === 'key-service') {
        const expected = options.keyService?.();
        if (expected === undefined) return false;
        return (
          bytesEqual(signaturePublicKey, expected.signaturePublicKey) &&
          identity.id === expected.identity.id &&
          identity.name === expected.identity.name
        );
      }
      if (identity.kind === 'recorder') {
        if (!isIssuedRecorder(identity)) return false; // self-made: not issued by the key service
        const keyService = options.keyService?.();
        if (keyService === undefined) return false;
        const groupId = options.groupId?.();
        const problem = await recorderCredentialProblem(identity, signaturePublicKey, {
          keyService,
          ...(groupId === undefined ? {} : { groupId }),
          nowSec: options.nowSec?.() ?? Math.floor(Date.now() / 1000),
        });
        if (problem !== undefined) return false;
      }
      try {
        return (await validator.validateMember(identity, signaturePublicKey)) === true;
      } catch {
        return false;
      }
    },
  };
}
