import { contentTypes, defaultCredentialTypes, proposalOrRefTypes, senderTypes, wireformats } from 'ts-mls';
import { base64Encode } from './bytes.js';
import { MLS_CIPHERSUITE_ID } from './ciphersuite.js';
import { MlsSessionError } from './errors.js';
import { decodeMlsMessage } from './mls-message.js';

/**
 * What the delivery service can learn from handshake messages without being a member: commits travel
 * as PublicMessage (RFC 9420 §6.2), so their framing and proposal list are readable, though their
 * signature and membership tag need the GroupContext the service does not hold.
 */
export interface CommitSummary {
  groupId: Uint8Array;
  /** The epoch the commit was made in (it moves the group to epoch + 1). */
  epoch: bigint;
  committerLeafIndex: number;
  /** ProposalRefs (base64) the commit covers by reference. */
  proposalRefs: string[];
  /** Types of proposals carried by value (this profile allows none). */
  inlineProposalTypes: number[];
  /** Whether the commit carries an UpdatePath (fresh key material from the committer, §12.4). */
  hasPath: boolean;
  /**
   * The committer's new leaf node, when the commit has an UpdatePath: its signature key and the identity
   * bytes of its basic credential (undefined for another credential type), so the service can refuse a
   * commit that changes who the committer is.
   */
  pathLeaf?: { signaturePublicKey: Uint8Array; credentialIdentity: Uint8Array | undefined };
}

export function inspectCommit(bytes: Uint8Array): CommitSummary {
  const message = decodeMlsMessage(bytes);
  if (message.wireformat !== wireformats.mls_public_message) throw new MlsSessionError('malformed-message', 'a commit must be a PublicMessage');
  const { content } = message.publicMessage;
  if (content.contentType !== contentTypes.commit) throw new MlsSessionError('malformed-message', 'not a commit');
  if (content.sender.senderType !== senderTypes.member) throw new MlsSessionError('malformed-message', 'a commit must come from a member');
  const proposalRefs: string[] = [];
  const inlineProposalTypes: number[] = [];
  for (const item of content.commit.proposals) {
    if (item.proposalOrRefType === proposalOrRefTypes.reference) proposalRefs.push(base64Encode(item.reference));
    else inlineProposalTypes.push(item.proposal.proposalType);
  }
  const path = content.commit.path;
  const summary: CommitSummary = {
    groupId: content.groupId,
    epoch: content.epoch,
    committerLeafIndex: content.sender.leafIndex,
    proposalRefs,
    inlineProposalTypes,
    hasPath: path !== undefined,
  };
  if (path !== undefined) {
    const credential = path.leafNode.credential;
    summary.pathLeaf = {
      signaturePublicKey: path.leafNode.signaturePublicKey,
      credentialIdentity: credential.credentialType === defaultCredentialTypes.basic && 'identity' in credential ? credential.identity : undefined,
    };
  }
  return summary;
}

export interface WelcomeSummary {
  /** KeyPackageRefs (base64) of the joiners this Welcome is encrypted to. */
  newMemberRefs: string[];
}

export function inspectWelcome(bytes: Uint8Array): WelcomeSummary {
  const message = decodeMlsMessage(bytes);
  if (message.wireformat !== wireformats.mls_welcome) throw new MlsSessionError('malformed-message', 'not a Welcome');
  if (message.welcome.cipherSuite !== MLS_CIPHERSUITE_ID) throw new MlsSessionError('malformed-message', 'Welcome ciphersuite is not 0x0001');
  return { newMemberRefs: message.welcome.secrets.map((s) => base64Encode(s.newMember)) };
}
