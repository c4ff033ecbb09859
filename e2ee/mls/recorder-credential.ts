import { bytesEqual, concatBytes, utf8Encode } from './bytes.js';
import { mlsCipherSuite } from './ciphersuite.js';
import type { ExternalSenderInfo } from './external-sender.js';
import { CredentialError, identityProblem, issuedRecorderTbsFields, type IssuedRecorderIdentity, type RecorderIssuance } from './participant-credential.js';
import { vector } from './tls.js';

/**
 * Recorder credentials issued by the key service (ARCHITECTURE.md flow 5; issue 4).
 *
 * RFC 9420 §5.3 makes the application responsible for binding a credential's identity to the leaf's
 * signature key ("the Authentication Service"), and §5.3.1 requires every member to validate each
 * credential it meets. For a participant the platform token is that binding (checked by the key service
 * when the KeyPackage arrives). For a recorder it must be checkable by every member: the key service —
 * the one party every member already pins, as the group's only external sender — signs a statement
 * that this key, in this room and this group, until this time, is a recorder for this purpose. The
 * statement travels inside the recorder's basic credential (identity format 2, participant-credential.ts).
 *
 * Signature: the external-sender key (Ed25519 in ciphersuite 0x0001) signs
 *     SignContent = opaque label<V> = "Chaperone 1.0 RecorderCredentialTBS" ‖ opaque content<V>
 *     content     = format-2 fields up to the signature ‖ opaque leaf_signature_key<V>
 * — RFC 9420 §5.1.2's SignWithLabel construction, with a label outside the "MLS 1.0 " namespace, so
 * that no signature the key service makes as external sender (label "MLS 1.0 FramedContentTBS") can be
 * read as a credential and no credential signature as an MLS message. The same signer interface signs
 * both, so the key can live in a KMS.
 */

/** What signs a credential: the external-sender signer (structurally an ExternalProposalSigner). */
export interface RecorderCredentialSigner {
  readonly signaturePublicKey: Uint8Array;
  sign(content: Uint8Array): Promise<Uint8Array>;
}

export const RECORDER_CREDENTIAL_LABEL = 'Chaperone 1.0 RecorderCredentialTBS';
/** Members accept a credential this long after its not_after, for clock differences. */
export const RECORDER_CREDENTIAL_CLOCK_SKEW_SEC = 300;

/** The SignContent bytes the key service signs for a recorder credential. */
export function recorderCredentialSignContent(identity: IssuedRecorderIdentity, leafSignaturePublicKey: Uint8Array): Uint8Array {
  const tbs = concatBytes(issuedRecorderTbsFields(identity), vector(leafSignaturePublicKey));
  return concatBytes(vector(utf8Encode(RECORDER_CREDENTIAL_LABEL)), vector(tbs));
}

export interface RecorderCredentialRequest {
  /** The recorder service's token subject. */
  id: string;
  /** Display name, e.g. "Chaperone recorder". */
  name: string;
  room: string;
  groupId: Uint8Array;
  purpose: string;
  notAfter: number;
  /** The recorder's leaf signature public key (it generated the pair; the private key never leaves it). */
  leafSignaturePublicKey: Uint8Array;
}

/** Issues a recorder credential (key service side). Throws CredentialError for a request breaking the rules. */
export async function issueRecorderCredential(request: RecorderCredentialRequest, signer: RecorderCredentialSigner): Promise<IssuedRecorderIdentity> {
  if (!(request.leafSignaturePublicKey instanceof Uint8Array) || request.leafSignaturePublicKey.length !== 32) {
    throw new CredentialError('leafSignaturePublicKey must be a 32-byte Ed25519 public key');
  }
  const unsigned: IssuedRecorderIdentity = {
    id: request.id,
    kind: 'recorder',
    name: request.name,
    issuance: { room: request.room, groupId: request.groupId.slice(), purpose: request.purpose, notAfter: request.notAfter, signature: Uint8Array.of(0) },
  };
  const problem = identityProblem(unsigned);
  if (problem !== undefined) throw new CredentialError(problem);
  const content = recorderCredentialSignContent(unsigned, request.leafSignaturePublicKey);
  const signature = await signer.sign(content);
  const cs = await mlsCipherSuite();
  if (!(signature instanceof Uint8Array) || !(await cs.signature.verify(signer.signaturePublicKey, content, signature))) {
    throw new CredentialError('the key service signer produced a signature that does not verify');
  }
  return { ...unsigned, issuance: { ...unsigned.issuance, signature } };
}

export interface RecorderCheckContext {
  /** The key service the member pins (its external-sender key signs recorder credentials). */
  keyService: ExternalSenderInfo;
  /** The group the member is in; undefined only while joining (checked right after, see MlsSession.join). */
  groupId?: Uint8Array;
  /** The room the member knows it is in, when it knows it. */
  room?: string;
  /** Seconds since the epoch, now. */
  nowSec: number;
}

/** Why a recorder credential must be refused, or undefined when it is valid in this context. */
export async function recorderCredentialProblem(
  identity: IssuedRecorderIdentity,
  leafSignaturePublicKey: Uint8Array,
  context: RecorderCheckContext,
): Promise<string | undefined> {
  const { issuance } = identity;
  if (context.groupId !== undefined && !bytesEqual(issuance.groupId, context.groupId)) return 'recorder credential is for another group';
  if (context.room !== undefined && issuance.room !== context.room) return 'recorder credential is for another room';
  if (issuance.notAfter + RECORDER_CREDENTIAL_CLOCK_SKEW_SEC < context.nowSec) return 'recorder credential has expired';
  const cs = await mlsCipherSuite();
  const content = recorderCredentialSignContent(identity, leafSignaturePublicKey);
  let valid = false;
  try {
    valid = await cs.signature.verify(context.keyService.signaturePublicKey, content, issuance.signature);
  } catch {
    valid = false;
  }
  return valid ? undefined : 'recorder credential was not issued by the key service';
}

export type { RecorderIssuance };
