/**
 * The MLS layer (RFC 9420 via ts-mls 2.0). The only folder that imports ts-mls; nothing here logs.
 *
 * Member side: CallMember (the delivery-protocol client), MlsSession (one member's group state),
 * participant credentials, key-service-issued recorder credentials and the credential-validation hook,
 * consent statements signed with the leaf key.
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
  type ConsentReceipt,
  type ConsentStatus,
  type DeliveryTransport,
  type EpochUpdate,
} from './call-member.js';
export {
  CONSENT_STATEMENT_LABEL,
  ConsentStatementError,
  consentSignContent,
  decodeConsentStatement,
  encodeConsentStatement,
  hashConsentText,
  newConsentNonce,
  verifyConsentSignature,
  type ConsentDecision,
  type ConsentStatement,
} from './consent-statement.js';
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
  type ConsentRefusalReason,
  type Decoded,
  type DeliveryErrorCode,
  type ProtocolError,
  type ProtocolErrorCode,
  type RecordingPolicyNotice,
  type RefusedWhat,
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
  isIssuedRecorder,
  isParticipantIdentity,
  type ChaperoneIdentity,
  type IssuedRecorderIdentity,
  type KeyServiceIdentity,
  type MemberKind,
  type ParticipantIdentity,
  type RecorderIssuance,
} from './participant-credential.js';
export {
  RECORDER_CREDENTIAL_CLOCK_SKEW_SEC,
  RECORDER_CREDENTIAL_LABEL,
  issueRecorderCredential,
  recorderCredentialProblem,
  recorderCredentialSignContent,
  type RecorderCheckContext,
  type RecorderCredentialRequest,
  type RecorderCredentialSigner,
} from './recorder-credential.js';
export { MemberSignatureKeys } from './signature-keys.js';
