/**
 * The KMS test double: AWS KMS's JSON 1.1 protocol on a local port, for tests and the demo.
 * Exports the launcher and its types; the key store, blob format and SigV4 check stay internal.
 */
export { startKmsDouble, KMS_DOUBLE_CREDENTIALS } from './kms-double.js';
export type { KmsDouble, KmsDoubleOptions, KmsCall, AccessDenial, InjectedFault } from './kms-double.js';
export type { KeySpec, KeyUsage, KeyState, SigningAlgorithm } from './key-store.js';
export type { KmsErrorType } from './errors.js';
