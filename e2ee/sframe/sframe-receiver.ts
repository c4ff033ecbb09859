// The receiving side of SFrame: a bounded set of keys by KID, a replay window per KID, frames in.
//
// decrypt() follows RFC 9605 §4.4.4 and adds what the RFC leaves to the application: a size limit,
// anti-replay (§7.4), a bounded key set, and lazy key lookup through the key schedule. It never throws
// and never logs; every refusal is a Result with a code.
//
// Replay state outlives a key leaving the set (LRU eviction, removeKey): the window is kept, bounded,
// with the key's salt, and restored if the same key material comes back for that KID. Otherwise an
// attacker who could make the receiver evict and re-resolve a key would reset its window and replay
// old frames. A new key for the same KID (e.g. an MLS epoch whose low E bits wrap, §5.2) has a
// different salt and starts with a fresh window.

import { EMPTY_BYTES, constantTimeEqual, cryptoBytes, isBytes } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { decodeHeader, isHeaderValue } from './header.js';
import { deriveFrameKey, type FrameKey } from './key-derivation.js';
import { openFrame } from './frame-encryption.js';
import { LruMap } from './lru-map.js';
import { ReplayWindow } from './replay-window.js';
import { cipherSuite, DEFAULT_CIPHER_SUITE, type CipherSuite, type CipherSuiteId } from './suites.js';

export interface SFrameReceiverOptions {
  /** Most keys held at once; the least recently used is evicted beyond it. Default 32, at most 65536. */
  readonly maxKeys?: number;
  /** Replay window in CTR values: a CTR this far or more below the highest accepted one for its KID is
   * refused. Default 128, at most 4096. */
  readonly replayWindow?: number;
  /** Frames longer than this are refused with 'too-large' before any work. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /**
   * Called synchronously for a KID with no key (e.g. by the SFrame-from-MLS key schedule). Return its
   * base_key, or undefined if the KID is not known. The key is then derived and cached like addKey().
   */
  readonly resolveBaseKey?: (kid: bigint) => Uint8Array | undefined;
}

export interface DecryptedFrame {
  readonly payload: Uint8Array;
  /** The KID the frame was authenticated under: attribution of the frame to its sender. */
  readonly kid: bigint;
  readonly ctr: bigint;
}

export const DEFAULT_MAX_KEYS = 32;
export const DEFAULT_REPLAY_WINDOW = 128;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
const MAX_MAX_KEYS = 65536;
const MAX_REPLAY_WINDOW = 4096;
const MAX_MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Replay windows kept for keys that left the set, per key slot. */
const RETIRED_WINDOWS_PER_KEY = 4;

const RECEIVER_OPTION_NAMES: ReadonlySet<string> = new Set(['maxKeys', 'replayWindow', 'maxFrameBytes', 'resolveBaseKey']);

interface KeyEntry {
  readonly key: FrameKey;
  readonly window: ReplayWindow;
  /** Set when the key is removed or replaced by other key material: in-flight decrypts then fail. */
  revoked: boolean;
}

interface RetiredWindow {
  readonly salt: Uint8Array;
  readonly window: ReplayWindow;
}

interface PendingKey {
  readonly request: number;
  readonly done: Promise<Result<void>>;
}

function integerOption(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`options.${name} must be an integer in [1, ${max}], got ${String(value)}`);
  }
  return value;
}

export class SFrameReceiver {
  readonly suite: CipherSuite;
  readonly maxKeys: number;
  readonly replayWindow: number;
  readonly maxFrameBytes: number;
  readonly #resolveBaseKey: ((kid: bigint) => Uint8Array | undefined) | undefined;
  readonly #keys: LruMap<bigint, KeyEntry>;
  readonly #retired: LruMap<bigint, RetiredWindow>;
  /** Derivations in progress by KID; only the latest request for a KID may install its key. */
  readonly #pending = new Map<bigint, PendingKey>();
  #requests = 0;

  /** Throws RangeError/TypeError for an unknown suite or a bad option (configuration, not media). */
  constructor(suite: CipherSuiteId = DEFAULT_CIPHER_SUITE, options: SFrameReceiverOptions = {}) {
    const resolved = cipherSuite(suite);
    if (resolved === undefined) throw new RangeError(`suite: ${String(suite)} is not an RFC 9605 cipher suite (0x0001-0x0005)`);
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    for (const name of Object.keys(options)) {
      if (!RECEIVER_OPTION_NAMES.has(name)) throw new TypeError(`options.${name} is not an SFrameReceiver option`);
    }
    if (options.resolveBaseKey !== undefined && typeof options.resolveBaseKey !== 'function') {
      throw new TypeError('options.resolveBaseKey must be a function');
    }
    this.suite = resolved;
    this.maxKeys = integerOption('maxKeys', options.maxKeys, DEFAULT_MAX_KEYS, MAX_MAX_KEYS);
    this.replayWindow = integerOption('replayWindow', options.replayWindow, DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW);
    this.maxFrameBytes = integerOption('maxFrameBytes', options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES);
    this.#resolveBaseKey = options.resolveBaseKey;
    this.#keys = new LruMap(this.maxKeys);
    this.#retired = new LruMap(this.maxKeys * RETIRED_WINDOWS_PER_KEY);
  }

  /** Number of keys held (never more than maxKeys). */
  get keyCount(): number {
    return this.#keys.size;
  }

  hasKey(kid: bigint): boolean {
    return this.#keys.has(kid);
  }

  /**
   * Derives the key for (kid, baseKey) (§4.4.2) and adds it, replacing any key for that KID. Frames for
   * the KID that arrive meanwhile wait for it. If addKey() or removeKey() is called for the same KID
   * before this derivation finishes, the later call wins. Errors: 'bad-argument', 'bad-key'.
   */
  addKey(kid: bigint, baseKey: Uint8Array): Promise<Result<void>> {
    if (!isHeaderValue(kid)) return Promise.resolve(fail('bad-argument', 'kid must be a bigint in [0, 2^64-1]'));
    return this.#install(kid, baseKey);
  }

  /**
   * Forgets the key for `kid` at once, including for decrypts already in progress, and cancels a pending
   * addKey() for it. Returns whether there was a key or a pending derivation.
   */
  removeKey(kid: bigint): boolean {
    const pending = this.#pending.delete(kid);
    const entry = this.#keys.delete(kid);
    if (entry !== undefined) {
      entry.revoked = true;
      this.#retire(kid, entry);
    }
    return pending || entry !== undefined;
  }

  /**
   * Authenticates and decrypts one frame (§4.4.4) with AAD = header ‖ metadata. Never throws.
   * Errors: 'bad-argument', 'too-large', 'truncated-header', 'bad-header', 'truncated-frame',
   * 'unknown-kid', 'bad-key' (the resolver failed), 'replayed', 'auth-failed'.
   */
  async decrypt(frame: Uint8Array, metadata: Uint8Array = EMPTY_BYTES): Promise<Result<DecryptedFrame>> {
    try {
      if (!isBytes(frame)) return fail('bad-argument', 'frame must be a Uint8Array');
      if (metadata !== EMPTY_BYTES && !isBytes(metadata)) return fail('bad-argument', 'metadata must be a Uint8Array');
      if (frame.length > this.maxFrameBytes) {
        return fail('too-large', `frame is ${frame.length} bytes, limit is ${this.maxFrameBytes}`);
      }
      const header = decodeHeader(frame);
      if (!header.ok) return header;
      const { kid, ctr } = header.value;
      if (frame.length - header.value.length < this.suite.Nt) {
        return fail('truncated-frame', `frame has ${frame.length - header.value.length} bytes after the header, tag needs ${this.suite.Nt}`);
      }
      let entry = this.#keys.get(kid);
      if (entry === undefined) {
        const found = await this.#findMissingKey(kid);
        if (!found.ok) return found;
        entry = found.value;
      }
      // Cheap early refusal; the authoritative check is markSeen() after authentication.
      if (!entry.window.isFresh(ctr)) return fail('replayed', `KID ${kid} CTR ${ctr} was seen or is outside the replay window`);
      let plaintext: ArrayBuffer;
      try {
        plaintext = await openFrame(entry.key, header.value, cryptoBytes(frame), metadata);
      } catch {
        return fail('auth-failed', `frame for KID ${kid} CTR ${ctr} did not authenticate`);
      }
      if (entry.revoked) return fail('unknown-kid', `the key for KID ${kid} was removed while the frame was decrypted`);
      if (!entry.window.markSeen(ctr)) return fail('replayed', `KID ${kid} CTR ${ctr} was seen or is outside the replay window`);
      return ok({ payload: new Uint8Array(plaintext), kid, ctr });
    } catch {
      return fail('internal-error', 'unexpected exception in SFrameReceiver.decrypt');
    }
  }

  /** A key for a KID not in the set: wait for a pending addKey(), or ask the resolver. */
  async #findMissingKey(kid: bigint): Promise<Result<KeyEntry>> {
    let pending = this.#pending.get(kid);
    if (pending === undefined && this.#resolveBaseKey !== undefined) {
      let baseKey: Uint8Array | undefined;
      try {
        baseKey = this.#resolveBaseKey(kid);
      } catch {
        return fail('bad-key', `resolveBaseKey threw for KID ${kid}`);
      }
      if (baseKey !== undefined) {
        void this.#install(kid, baseKey);
        pending = this.#pending.get(kid);
      }
    }
    if (pending !== undefined) {
      const installed = await pending.done;
      if (!installed.ok) return fail(installed.error.code === 'bad-key' ? 'bad-key' : 'unknown-kid', `no usable key for KID ${kid}: ${installed.error.detail}`);
      const entry = this.#keys.get(kid);
      if (entry !== undefined) return ok(entry);
    }
    return fail('unknown-kid', `no key for KID ${kid}`);
  }

  #install(kid: bigint, baseKey: Uint8Array): Promise<Result<void>> {
    const request = ++this.#requests;
    const done = (async (): Promise<Result<void>> => {
      const derived = await deriveFrameKey(this.suite, kid, baseKey);
      // A later addKey()/removeKey() for this KID supersedes this one.
      if (this.#pending.get(kid)?.request !== request) return ok(undefined);
      this.#pending.delete(kid);
      if (!derived.ok) return derived;
      this.#put(kid, derived.value);
      return ok(undefined);
    })();
    this.#pending.set(kid, { request, done });
    return done;
  }

  #put(kid: bigint, key: FrameKey): void {
    const previous = this.#keys.delete(kid);
    let window: ReplayWindow | undefined;
    if (previous !== undefined) {
      if (constantTimeEqual(previous.key.salt, key.salt)) {
        window = previous.window; // the same key again: keep what was seen
      } else {
        previous.revoked = true; // new key material for this KID: the old key is gone for good
      }
    } else {
      const retired = this.#retired.delete(kid);
      if (retired !== undefined && constantTimeEqual(retired.salt, key.salt)) window = retired.window;
    }
    const entry: KeyEntry = { key, window: window ?? new ReplayWindow(this.replayWindow), revoked: false };
    const evicted = this.#keys.set(kid, entry);
    if (evicted !== undefined) this.#retire(evicted[0], evicted[1]);
  }

  #retire(kid: bigint, entry: KeyEntry): void {
    this.#retired.set(kid, { salt: entry.key.salt, window: entry.window });
  }
}
