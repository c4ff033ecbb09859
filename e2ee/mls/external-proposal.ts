import { contentTypes, defaultProposalTypes, encode, keyPackageEncoder, protocolVersions, senderTypes, wireformats } from 'ts-mls';
import { base64Encode, concatBytes, utf8Encode } from './bytes.js';
import { mlsCipherSuite } from './ciphersuite.js';
import { MlsSessionError } from './errors.js';
import type { ReceivedKeyPackage } from './key-package.js';
import { decodeMlsMessage } from './mls-message.js';
import { uint16, uint32, uint64, uint8, vector } from './tls.js';

/**
 * External proposals of the key service (RFC 9420 §12.1.8), built here rather than with ts-mls's
 * `proposeExternal`, which needs the raw private key: the service signs through an
 * ExternalProposalSigner, so the key can live in a KMS (issue 4) and never in this process.
 *
 * Encoding (RFC 9420 §6, §6.1, §12.1):
 *   FramedContent    = group_id<V> ‖ epoch(u64) ‖ Sender{external(u8=2), sender_index(u32)}
 *                      ‖ authenticated_data<V> ‖ content_type(u8=proposal) ‖ Proposal
 *   FramedContentTBS = version(u16) ‖ wire_format(u16=public) ‖ FramedContent   (no GroupContext for
 *                      an external sender, §6.1)
 *   signature        = SignWithLabel(., "FramedContentTBS", FramedContentTBS)   (§5.1.2)
 *   MLSMessage       = version(u16) ‖ wire_format(u16) ‖ FramedContent ‖ signature<V>   (no membership_tag)
 *   ProposalRef      = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)   (§5.2), where
 *   AuthenticatedContent = wire_format ‖ FramedContent ‖ signature<V>  = MLSMessage without its version.
 * The result is byte-identical to ts-mls's proposeExternal with the same Ed25519 key (a test checks it).
 */

export interface ExternalProposalSigner {
  /** The signature public key listed in the group's external_senders. */
  readonly signaturePublicKey: Uint8Array;
  /** A signature (Ed25519 for ciphersuite 0x0001) over exactly `content` — the SignContent bytes. */
  sign(content: Uint8Array): Promise<Uint8Array>;
}

export type ExternalProposalBody = { kind: 'add'; keyPackage: ReceivedKeyPackage } | { kind: 'remove'; leafIndex: number };

export interface SignedExternalProposal {
  /** MLSMessage(PublicMessage) bytes to fan out to members. */
  message: Uint8Array;
  /** ProposalRef, base64: how a Commit refers to this proposal. */
  ref: string;
}

/** sender_index of the key service: it is the first and only external_senders entry (external-sender.ts). */
export const KEY_SERVICE_SENDER_INDEX = 0;

export async function createExternalProposal(params: {
  groupId: Uint8Array;
  epoch: bigint;
  proposal: ExternalProposalBody;
  signer: ExternalProposalSigner;
}): Promise<SignedExternalProposal> {
  const { groupId, epoch, proposal, signer } = params;
  if (typeof epoch !== 'bigint' || epoch < 0n) throw new MlsSessionError('bad-argument', 'epoch must be a non-negative bigint');
  let body: Uint8Array;
  if (proposal.kind === 'add') {
    body = concatBytes(uint16(defaultProposalTypes.add), encode(keyPackageEncoder, proposal.keyPackage.keyPackage));
  } else {
    if (!Number.isInteger(proposal.leafIndex) || proposal.leafIndex < 0 || proposal.leafIndex > 0xffffffff) {
      throw new MlsSessionError('bad-argument', 'leafIndex must be a uint32');
    }
    body = concatBytes(uint16(defaultProposalTypes.remove), uint32(proposal.leafIndex));
  }
  const framedContent = concatBytes(
    vector(groupId),
    uint64(epoch),
    uint8(senderTypes.external),
    uint32(KEY_SERVICE_SENDER_INDEX),
    vector(new Uint8Array(0)),
    uint8(contentTypes.proposal),
    body,
  );
  const tbs = concatBytes(uint16(protocolVersions.mls10), uint16(wireformats.mls_public_message), framedContent);
  const signContent = concatBytes(vector(utf8Encode('MLS 1.0 FramedContentTBS')), vector(tbs));
  const signature = await signer.sign(signContent);

  const cs = await mlsCipherSuite();
  if (!(signature instanceof Uint8Array) || !(await cs.signature.verify(signer.signaturePublicKey, signContent, signature))) {
    throw new MlsSessionError('bad-signature', 'the external sender signer produced a signature that does not verify');
  }
  const authenticatedContent = concatBytes(uint16(wireformats.mls_public_message), framedContent, vector(signature));
  const message = concatBytes(uint16(protocolVersions.mls10), authenticatedContent);
  decodeMlsMessage(message); // self-check: what we send decodes, completely, as an MLS message
  const refInput = concatBytes(vector(utf8Encode('MLS 1.0 Proposal Reference')), vector(authenticatedContent));
  const ref = base64Encode(await cs.hash.digest(refInput));
  return { message, ref };
}
