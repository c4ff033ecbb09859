/**
 * The key service (control plane). This slice: the MLS delivery service and the group's single external
 * sender, platform-token verification, and the admission-policy hook issue 4 (consent) builds on.
 * Left out on purpose: Room internals (use KeyService.room() snapshots).
 */
export { admitEveryone, type AdmissionDecision, type AdmissionPolicy, type JoinerView, type RoomView } from './admission-policy.js';
export {
  DEFAULT_KEY_SERVICE_IDENTITY,
  LocalEd25519ExternalSender,
  generateLocalExternalSender,
  type ExternalSenderSigner,
} from './external-sender.js';
export { DELIVERY_PATH, startKeyService, type KeyService, type KeyServiceOptions } from './key-service.js';
export { silentLogger, type Logger } from './logger.js';
export { ConfigError, keyServiceConfigFromEnv, startConfiguredKeyService, type KeyServiceConfig } from './main.js';
export type { RoomSnapshot } from './room.js';
export {
  DEV_TOKEN_ALGORITHM,
  PLATFORM_ROLES,
  TokenError,
  createDevTokenAuthority,
  createHs256TokenVerifier,
  issueDevToken,
  type DevTokenAuthority,
  type DevTokenClaims,
  type PlatformRole,
  type TokenVerifier,
  type VerifiedToken,
} from './tokens.js';
export { connectDeliveryTransport, type WsDeliveryTransport } from './ws-delivery-transport.js';
