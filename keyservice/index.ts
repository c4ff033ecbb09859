/**
 * The key service (control plane): the MLS delivery service and the group's single external sender
 * (local key file or KMS), platform-token verification, the HTTP API (recording policy, consent, the
 * consent ledger, recorder credentials, audit), the recording gate (consent → recorder membership), and
 * recorder dispatch (BullMQ) with SFU moderation (Janus).
 * Left out on purpose: Room internals (use KeyService.room() snapshots), test support.
 */
export { admitEveryone, type AdmissionDecision, type AdmissionPolicy, type JoinerView, type RoomView } from './admission-policy.js';
export {
  DEFAULT_KEY_SERVICE_IDENTITY,
  LocalEd25519ExternalSender,
  generateLocalExternalSender,
  type ExternalSenderSigner,
} from './external-sender.js';
export { DELIVERY_PATH, startKeyService, type KeyService, type KeyServiceOptions, type RecordingOptions } from './key-service.js';
export { ACCESS, buildHttpApi, type AccessRule, type HttpApiDeps } from './http-api.js';
export { API_ERROR_STATUS, ApiError, type ApiErrorCode } from './api-errors.js';
export { KMS_RAW_MESSAGE_LIMIT_BYTES, KmsEd25519ExternalSender, KmsSignerError } from './kms-external-sender.js';
export { CONSENT_CLOCK_SKEW_MS, RECORDER_CREDENTIAL_TTL_SEC, RECORDER_REJOIN_GRACE_MS, RECORDER_REMOVAL_TIMEOUT_MS, RecordingGate, type Authorization } from './recording-gate.js';
export {
  DEFAULT_RETENTION_DAYS,
  PURPOSES,
  PURPOSE_LABELS,
  type ConsentMode,
  type RecordingPolicy,
  type RecordingPolicyInput,
  type RecordingPurpose,
} from './recording-policy.js';
export { CONSENT_CHAIN, listConsents, verifyConsentLedger, type ConsentEntry } from './consent-ledger.js';
export { MemoryRecorderDispatcher, type RecorderDispatcher } from './recorder-dispatcher.js';
export { BullMqRecorderDispatcher, type BullMqRecorderDispatcherOptions } from './bullmq-recorder-dispatcher.js';
export {
  RECORD_JOB,
  RECORD_QUEUE,
  RECORDER_CREDENTIAL_PATH,
  RECORDER_STOP_EVENT,
  recordJobPayload,
  type RecordJobData,
  type RecordJobPayload,
  type RecorderStop,
  type RecorderStopReason,
} from './recorder-jobs.js';
export { JanusSfuModeration, type JanusSfuModerationOptions, type SfuModeration } from './sfu-moderation.js';
export { silentLogger, type Logger } from './logger.js';
export { ConfigError, KEYSERVICE_SETTINGS, keyServiceConfigFromEnv, numericSfuRoom, startConfiguredKeyService, type ConfiguredKeyService, type KeyServiceConfig } from './main.js';
export type { RoomSnapshot } from './room.js';
export {
  DEV_TOKEN_ALGORITHM,
  CALL_ROLES,
  PLATFORM_ROLES,
  ROOM_SCOPED_ROLES,
  TokenError,
  createDevTokenAuthority,
  createHs256TokenVerifier,
  createJwtVerifier,
  issueDevToken,
  type DevTokenAuthority,
  type DevTokenClaims,
  type JwtVerifierOptions,
  type PlatformRole,
  type TokenVerifier,
  type VerifiedToken,
} from './tokens.js';
export { connectDeliveryTransport, type WsDeliveryTransport } from './ws-delivery-transport.js';
