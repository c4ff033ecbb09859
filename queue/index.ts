/**
 * The sealing pipeline (issue 5). Public surface:
 * - contract.ts — what the recorder calls (enqueueSealRecording, openSealEnqueuer) and what travels in Redis;
 * - workers.ts — startSealWorkers, installSignalHandlers; config.ts — parseSealConfig, createSealServices;
 * - verify-recording.ts — re-reads and checks a sealed recording (`chaperone verify`);
 * - keys/data-keys.ts — destroyTrackKey (crypto-shredding).
 * Internal (imported by those, not by other areas): catalog, steps, envelope, object store, spool, manifest.
 */
export * from './contract.js';
export { consentRefsFor, consentRef, parseConsentRef, type ConsentWindow } from './consent-refs.js';
export { startSealWorkers, installSignalHandlers, sealBackoff, type SealWorkers, type SealWorkerOptions } from './workers.js';
export { parseSealConfig, loadSealConfig, createSealServices, type SealConfig, type BuiltServices } from './config.js';
export { verifyRecording, type VerifyReport, type SegmentVerdict } from './verify-recording.js';
export { destroyTrackKey } from './keys/data-keys.js';
export { SealError, SealRequestError, ConfigError, codeOfFailedReason, type SealErrorCode } from './errors.js';
export type { SealServices } from './services.js';
