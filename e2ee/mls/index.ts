/**
 * The MLS layer (RFC 9420 via ts-mls 2.0). The only folder that imports ts-mls; nothing here logs.
 *
 * Member side: CallMember (the delivery-protocol client), MlsSession (one member's group state),
 * participant credentials and the credential-validation hook.
 * Delivery-service side (used by keyservice/): KeyPackage parsing and validation, external proposal
 * signing, commit and Welcome inspection.
 * Shared: the delivery protocol's message union with its validating decoders.
 * Left out on purpose: ts-mls types and functions (use the wrappers), test fixtures.
 */
export { base64Decode, base64Encode } from './bytes.js';
export {
  CallMember,
  CallMemberError,
  type CallMemberErrorCode,
  type CallMemberEvents,
  type CallMemberOptions,
  type DeliveryTransport,
  type EpochUpdate,
} from './call-member.js';
export { MLS_CIPHERSUITE_ID, MLS_CIPHERSUITE_NAME } from './ciphersuite.js';
export { inspectCommit, inspectWelcome, type CommitSummary, type WelcomeSummary } from './commit-inspection.js';
export { createAuthService, wellFormedCredentials, type AuthServiceOptions, type CredentialValidator } from './credential-validator.js';
export {
  DELIVERY_PROTOCOL_VERSION,
  MAX_FRAME_CHARS,
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
  type ClientMessage,
  type CommitRejectReason,
  type Decoded,
  type DeliveryErrorCode,
  type ProtocolError,
  type ProtocolErrorCode,
  type ServerMessage,
} from './delivery-protocol.js';
export { TypedEmitter } from './emitter.js';
export { MlsSessionError, type MlsErrorCode, type MlsErrorOrigin } from './errors.js';
export {
  KEY_SERVICE_SENDER_INDEX,
  createExternalProposal,
  type ExternalProposalBody,
  type ExternalProposalSigner,
  type SignedExternalProposal,
} from './external-proposal.js';
export { checkGroupExternalSender, sameExternalSender, type ExternalSenderInfo } from './external-sender.js';
export { KeyPackageValidator, MemberKeyPackage, parseKeyPackage, type ReceivedKeyPackage } from './key-package.js';
export { MlsSession, type MlsSessionOptions, type PendingCommit, type ProcessOutcome, type RosterEntry } from './mls-session.js';
export {
  CredentialError,
  decodeIdentity,
  encodeIdentity,
  identityProblem,
  isParticipantIdentity,
  type ChaperoneIdentity,
  type KeyServiceIdentity,
  type MemberKind,
  type ParticipantIdentity,
} from './participant-credential.js';
