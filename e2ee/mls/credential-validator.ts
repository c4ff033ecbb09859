import type { AuthenticationService, Credential } from 'ts-mls';
import { bytesEqual } from './bytes.js';
import type { ExternalSenderInfo } from './external-sender.js';
import { identityFromCredential, type ChaperoneIdentity, type ParticipantIdentity } from './participant-credential.js';

/**
 * The credential-validation hook (RFC 9420 §5.3.1: "the application MUST validate credentials"). ts-mls
 * calls its AuthenticationService for every credential it meets — KeyPackages being added, every leaf
 * of a tree it joins, committers' new leaf nodes, the group's external senders.
 *
 * Layering: the credential must first decode as a canonical Chaperone identity (participant-credential.ts),
 * or it is refused; a participant or recorder identity is then put to the CredentialValidator; the
 * key service's identity is accepted only with the exact signature key and identity this member was told
 * to expect. Issue 4 grows this: a recorder will need a key-service-issued credential, checked here.
 */
export interface CredentialValidator {
  validateMember(identity: ParticipantIdentity, signaturePublicKey: Uint8Array): boolean | Promise<boolean>;
}

/** Accepts every well-formed participant or recorder identity (the baseline before issue 4). */
export const wellFormedCredentials: CredentialValidator = {
  validateMember: () => true,
};

export interface AuthServiceOptions {
  validator?: CredentialValidator;
  /** The key service this member expects as the group's only external sender, when known. */
  keyService?: () => ExternalSenderInfo | undefined;
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
      try {
        return (await validator.validateMember(identity, signaturePublicKey)) === true;
      } catch {
        return false;
      }
    },
  };
}
