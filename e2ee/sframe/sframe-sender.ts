// The sending side of SFrame: one current key, a CTR per KID, frames out.
//
// RFC 9605 §7.4: a sender MUST NOT encrypt twice with the same key and nonce. The nonce is a function of
// (key, CTR), so the sender hands out each CTR at most once per KID for its whole lifetime: the CTR is
// taken synchronously when encrypt() is called (concurrent calls get distinct CTRs), counters are kept
// per KID (setting a KID used before resumes its counter; only a new KID starts at 0, §4.4.1), and
// when the next CTR would pass the limit, encrypt() returns 'counter-exhausted' instead of wrapping.

import { cryptoBytes, EMPTY_BYTES, isBytes } from './bytes.js';
import { fail, type Result, type SFrameError } from './errors.js';
import { MAX_HEADER_VALUE } from './header.js';
import { deriveFrameKey, type FrameKey } from './key-derivation.js';
import { encryptFrame } from './frame-encryption.js';
import { cipherSuite, DEFAULT_CIPHER_SUITE, type CipherSuite, type CipherSuiteId } from './suites.js';

export interface SFrameSenderOptions {
  /**
   * The highest CTR the sender will use under one KID. Default 2^64-1, the largest a header can carry
   * (§4.3). A lower limit makes encrypt() return 'counter-exhausted' earlier, forcing a key change.
   */
  readonly counterLimit?: bigint;
}

const SENDER_OPTION_NAMES: ReadonlySet<string> = new Set(['counterLimit']);

export class SFrameSender {
  readonly suite: CipherSuite;
  readonly #counterLimit: bigint;
  #key: FrameKey | undefined;
  /** The current key's counter (an entry of #nextCtr), so encrypt() does no map lookup. */
  #counter: { next: bigint } | undefined;
  /** Why the last setKey() failed, until one succeeds: encrypt() fails closed with it. */
  #keyError: SFrameError | undefined;
  /** Incremented by every setKey() call; a derivation installs its key only if no later call started. */
  #keyRequests = 0;
  /** Next CTR per KID this sender has used. One entry per key ever set, so it stays small. */
  readonly #nextCtr = new Map<bigint, { next: bigint }>();

  /** Throws RangeError/TypeError for an unknown suite or a bad option (configuration, not media). */
  constructor(suite: CipherSuiteId = DEFAULT_CIPHER_SUITE, options: SFrameSenderOptions = {}) {
    const resolved = cipherSuite(suite);
    if (resolved === undefined) throw new RangeError(`suite: ${String(suite)} is not an RFC 9605 cipher suite (0x0001-0x0005)`);
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    for (const name of Object.keys(options)) {
      if (!SENDER_OPTION_NAMES.has(name)) throw new TypeError(`options.${name} is not an SFrameSender option`);
    }
    const counterLimit = options.counterLimit ?? MAX_HEADER_VALUE;
    if (typeof counterLimit !== 'bigint' || counterLimit < 0n || counterLimit > MAX_HEADER_VALUE) {
      throw new RangeError('options.counterLimit must be a bigint in [0, 2^64-1]');
    }
    this.suite = resolved;
    this.#counterLimit = counterLimit;
  }

  /** KID of the key frames are currently encrypted with, or undefined before the first setKey(). */
  get kid(): bigint | undefined {
    return this.#key?.kid;
  }

  /**
   * Derives the key for (kid, baseKey) (§4.4.2) and makes it current; never rejects. Frames encrypted
   * before the returned promise settles use the previous key. If setKey() is called again before this
   * derivation finishes, the later call wins. If the derivation fails (KID out of range, empty or
   * refused base key), the sender fails closed: it drops its current key and encrypt() returns that
   * error ('bad-argument' or 'bad-key') until a later setKey() succeeds — it never silently keeps
   * encrypting under the key the caller asked to replace.
   */
  async setKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    const request = ++this.#keyRequests;
    const derived = await deriveFrameKey(this.suite, kid, baseKey);
    if (request !== this.#keyRequests) return;
    if (!derived.ok) {
      this.#key = undefined;
      this.#counter = undefined;
      this.#keyError = derived.error;
      return;
    }
    let counter = this.#nextCtr.get(kid);
    if (counter === undefined) {
      counter = { next: 0n };
      this.#nextCtr.set(kid, counter);
    }
    this.#key = derived.value;
    this.#counter = counter;
    this.#keyError = undefined;
  }

  /**
   * Encrypts one frame: header ‖ ciphertext ‖ tag, with AAD = header ‖ metadata (§4.4.3). The metadata
   * is authenticated but not included in the output; the receiver must supply the same bytes. The
   * result spans its whole ArrayBuffer. Never throws. Errors: 'bad-argument', 'no-key', 'bad-key' (the
   * last setKey() failed), 'counter-exhausted', 'crypto-failure'.
   */
  encrypt(payload: Uint8Array, metadata: Uint8Array = EMPTY_BYTES): Promise<Result<Uint8Array>> {
    // Not an async function: everything here runs synchronously within the call, so the key and CTR are
    // bound before anything is awaited and concurrent calls can never share a CTR. encryptFrame() never
    // rejects, so returning its promise keeps the never-throws contract without another async layer.
    try {
      if (!isBytes(payload)) return Promise.resolve(fail('bad-argument', 'payload must be a Uint8Array'));
      if (metadata !== EMPTY_BYTES && !isBytes(metadata)) return Promise.resolve(fail('bad-argument', 'metadata must be a Uint8Array'));
      const key = this.#key;
      const counter = this.#counter;
      if (key === undefined || counter === undefined) {
        if (this.#keyError !== undefined) return Promise.resolve({ ok: false, error: this.#keyError });
        return Promise.resolve(fail('no-key', 'no key yet: setKey() has not completed'));
      }
      const ctr = counter.next;
      if (ctr > this.#counterLimit) {
        return Promise.resolve(fail('counter-exhausted', `KID ${key.kid} used every CTR up to ${this.#counterLimit}; set a new key`));
      }
      counter.next = ctr + 1n;
      return encryptFrame(key, ctr, cryptoBytes(payload), metadata);
    } catch {
      return Promise.resolve(fail('internal-error', 'unexpected exception in SFrameSender.encrypt'));
    }
  }
}
