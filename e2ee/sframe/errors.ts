// The SFrame library's error model. Hot-path operations (encrypt, decrypt) never throw and never log:
// they return a Result whose error carries a stable code and a short detail for humans. A detail names
// what was wrong with the input (lengths, the KID, the option) and never contains key material,
// nonces, salts or plaintext.

/** Stable error codes. The comment on each says whose fault it is (see {@link SFRAME_ERROR_ORIGIN}). */
export type SFrameErrorCode =
  /** caller: an argument has the wrong type or is out of range (e.g. a KID >= 2^64). */
  | 'bad-argument'
  /** input: the frame is larger than the receiver's `maxFrameBytes`. */
  | 'too-large'
  /** input: the frame ends before the header it starts does (RFC 9605 §4.3). */
  | 'truncated-header'
  /** input: the header is not the minimal encoding RFC 9605 §4.3 requires ("MUST be encoded with the
   * minimum number of bytes"). */
  | 'bad-header'
  /** input: after the header there are fewer bytes than the cipher suite's tag (Nt) needs. */
  | 'truncated-frame'
  /** input or key schedule: no key is known for the frame's KID (RFC 9605 §4.4.4: the caller MAY buffer
   * the frame and retry once the key arrives). */
  | 'unknown-kid'
  /** input: the AEAD rejected the frame (wrong key, tampered header, metadata, ciphertext or tag). */
  | 'auth-failed'
  /** input: the CTR was already accepted for this KID, or is older than the replay window. */
  | 'replayed'
  /** caller: the sender has no key yet. */
  | 'no-key'
  /** caller or key schedule: a base key is unusable (empty, not bytes, or the platform refused it). */
  | 'bad-key'
  /** caller: the sender used every CTR its limit allows for this KID; set a new key (RFC 9605 §7.4:
   * a sender MUST NOT encrypt twice with the same key and nonce). */
  | 'counter-exhausted'
  /** platform: WebCrypto refused an operation that should have succeeded (sender side). */
  | 'crypto-failure'
  /** library: an unexpected exception was caught; a bug. */
  | 'internal-error';

/** Whose fault an error is: the frame that arrived, the code calling the library, or the runtime. */
export type SFrameErrorOrigin = 'input' | 'caller' | 'platform';

export const SFRAME_ERROR_ORIGIN: Readonly<Record<SFrameErrorCode, SFrameErrorOrigin>> = Object.freeze({
  'bad-argument': 'caller',
  'too-large': 'input',
  'truncated-header': 'input',
  'bad-header': 'input',
  'truncated-frame': 'input',
  'unknown-kid': 'input',
  'auth-failed': 'input',
  replayed: 'input',
  'no-key': 'caller',
  'bad-key': 'caller',
  'counter-exhausted': 'caller',
  'crypto-failure': 'platform',
  'internal-error': 'platform',
});

export interface SFrameError {
  readonly code: SFrameErrorCode;
  /** Human-readable; never contains key material or plaintext. */
  readonly detail: string;
}

/** A value or an error; `E` defaults to this library's error (callers may widen it with their own). */
export type Result<T, E = SFrameError> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

export function fail(code: SFrameErrorCode, detail: string): Result<never> {
  return { ok: false, error: { code, detail } };
}
