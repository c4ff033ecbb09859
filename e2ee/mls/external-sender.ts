import type { GroupContextExtension } from 'ts-mls';
import { defaultExtensionTypes } from 'ts-mls';
import { bytesEqual } from './bytes.js';
import { MlsSessionError } from './errors.js';
import { identityFromCredential, keyServiceCredential, type KeyServiceIdentity } from './participant-credential.js';

/**
 * The group's single external sender: the key service (RFC 9420 §12.1.8.3, external_senders).
 *
 * Every group of this project has exactly ONE GroupContext extension, external_senders, naming exactly
 * the key service. Two ts-mls 2.0.0-rc.10 facts make "first and only" more than tidiness:
 *  - `proposeExternal` computes the sender_index as the position of the matching extension among ALL
 *    GroupContext extensions, while receivers count only external_senders extensions; the two agree only
 *    when external_senders comes first.
 *  - ts-mls models one external_senders extension per sender and encodes its extension_data as a single
 *    ExternalSender, not as the RFC's `ExternalSender external_senders<V>` vector. With one sender and
 *    one implementation on both ends this interoperates with itself; it would not with another MLS stack.
 */

export interface ExternalSenderInfo {
  /** Ed25519 public key the key service signs external proposals with. */
  signaturePublicKey: Uint8Array;
  identity: KeyServiceIdentity;
}

/** The GroupContext extension list of a new group: external_senders = [key service], nothing else. */
export function externalSendersExtensions(keyService: ExternalSenderInfo): GroupContextExtension[] {
  return [
    {
      extensionType: defaultExtensionTypes.external_senders,
      extensionData: { signaturePublicKey: keyService.signaturePublicKey.slice(), credential: keyServiceCredential(keyService.identity) },
    },
  ];
}

/**
 * Checks that a group's GroupContext extensions are exactly [external_senders = key service]. A joiner
 * runs this on the group it was welcomed into: ts-mls does not validate external senders on join.
 */
export function checkGroupExternalSender(extensions: readonly GroupContextExtension[], expected: ExternalSenderInfo): void {
  const only = extensions.length === 1 ? extensions[0] : undefined;
  if (only === undefined || only.extensionType !== defaultExtensionTypes.external_senders) {
    throw new MlsSessionError('invalid-group', 'the group must have exactly one GroupContext extension: external_senders');
  }
  const sender = (only as { extensionData: { signaturePublicKey: Uint8Array; credential: Parameters<typeof identityFromCredential>[0] } }).extensionData;
  if (!bytesEqual(sender.signaturePublicKey, expected.signaturePublicKey)) {
    throw new MlsSessionError('invalid-group', 'the group external sender is not the key service');
  }
  let identity;
  try {
    identity = identityFromCredential(sender.credential);
  } catch (error) {
    throw new MlsSessionError('invalid-group', 'the group external sender credential is malformed', { cause: error });
  }
  if (identity.kind !== 'key-service' || identity.id !== expected.identity.id || identity.name !== expected.identity.name) {
    throw new MlsSessionError('invalid-group', 'the group external sender credential is not the key service');
  }
}

export function sameExternalSender(a: ExternalSenderInfo, b: ExternalSenderInfo): boolean {
  return bytesEqual(a.signaturePublicKey, b.signaturePublicKey) && a.identity.id === b.identity.id && a.identity.name === b.identity.name;
}
