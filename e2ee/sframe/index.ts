// Public surface of the SFrame library (RFC 9605). Left out on purpose: the AEAD, key-derivation,
// nonce and replay-window internals (tested directly, not API), and the raw-key derivation used only to
// check the RFC test vectors.

export { SFrameSender, type SFrameSenderOptions } from './sframe-sender.js';
export {
  SFrameReceiver,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_KEYS,
  DEFAULT_REPLAY_WINDOW,
  type DecryptedFrame,
  type SFrameReceiverOptions,
} from './sframe-receiver.js';
export {
  AES_128_CTR_HMAC_SHA256_32,
  AES_128_CTR_HMAC_SHA256_64,
  AES_128_CTR_HMAC_SHA256_80,
  AES_128_GCM_SHA256_128,
  AES_256_GCM_SHA512_128,
  CIPHER_SUITES,
  DEFAULT_CIPHER_SUITE,
  cipherSuite,
  type CipherSuite,
  type CipherSuiteId,
} from './suites.js';
export { decodeHeader, encodeHeader, MAX_HEADER_LENGTH, MAX_HEADER_VALUE, type SFrameHeader } from './header.js';
export {
  SFRAME_ERROR_ORIGIN,
  type Result,
  type SFrameError,
  type SFrameErrorCode,
  type SFrameErrorOrigin,
} from './errors.js';
