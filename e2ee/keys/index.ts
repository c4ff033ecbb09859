/**
 * SFrame keys from MLS (RFC 9605 §5.2). Exports the key schedule the media worker holds, the KID layout
 * and the profile constants. No MLS here: the MLS session (e2ee/mls) computes the exporter output and
 * hands it over; nothing in this folder logs or touches the platform beyond a timer.
 */
export {
  DEFAULT_SFRAME_SUITE,
  KID_CONTEXT_BITS,
  KID_EPOCH_BITS,
  KID_SENDER_BITS,
  MAX_SENDER_INDEX,
  PREVIOUS_EPOCH_GRACE_MS,
  SFRAME_MLS_EXPORTER_LABEL,
  SFRAME_SUITE,
  STREAM_CONTEXT,
  sframeBaseKeyLength,
  type SFrameSuiteId,
  type StreamContext,
} from './constants.js';
export { KeyScheduleError, type KeyScheduleErrorCode } from './errors.js';
export { encodeKid, epochBitsOf, parseKid, type KidFields } from './kid.js';
export {
  SFrameKeySchedule,
  type InstallEpochParams,
  type SenderKey,
  type SFrameKeyScheduleOptions,
} from './sframe-key-schedule.js';
export { globalTimer, type KeyScheduleTimer } from './timer.js';
