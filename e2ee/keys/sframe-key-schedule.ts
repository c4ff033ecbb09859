import {
  DEFAULT_SFRAME_SUITE,
  KNOWN_STREAM_CONTEXTS,
  MAX_SENDER_INDEX,
  PREVIOUS_EPOCH_GRACE_MS,
  sframeBaseKeyLength,
  type SFrameSuiteId,
} from './constants.js';
import { KeyScheduleError } from './errors.js';
import { encodeKid, epochBitsOf, parseKid, type KidFields } from './kid.js';
import { globalTimer, type KeyScheduleTimer } from './timer.js';

/**
 * SFrame keys from MLS for one member (RFC 9605 §5.2), as the media worker needs them.
 *
 * Per epoch the member is given the epoch's `base_key` (MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk),
 * see constants.ts). Every KID of that epoch — any sender, any stream context — maps to that same
 * `base_key`; the SFrame library derives the per-KID key and salt from (KID, base_key) per §4.4.2. That
 * is why `resolveBaseKey` can be synchronous (the receiver's hook needs it so): resolving a KID is a
 * table lookup, no key derivation happens here.
 *
 * Retention: the current epoch, plus the previous epoch for decryption only during
 * PREVIOUS_EPOCH_GRACE_MS after the switch (frames in flight across a commit). Then its key is zeroed and
 * forgotten, and `onEpochErased` tells the owner so caches keyed by KID can be dropped too. At most one
 * previous epoch is kept; installing a third erases the oldest at once. An epoch whose low E bits equal
 * the new epoch's is removed immediately, as §5.2 requires on rollover.
 *
 * Sender indices are checked against the roster given for each epoch when one is given, so a KID naming
 * a leaf that is not in the group does not resolve. (RFC 9605 §9: any member holding the epoch's
 * base_key could still seal a frame under another member's KID — attribution by KID assumes members do
 * not impersonate each other; MLS authenticates membership, not frames.)
 */

export interface InstallEpochParams {
  epoch: bigint;
  ownLeafIndex: number;
  /** The epoch's SFrame base_key (AEAD.Nk bytes). Copied; the caller may erase its own copy. */
  epochSecret: Uint8Array;
  /** Leaf indices present in the epoch's roster; when given, only these senders' KIDs resolve. */
  rosterLeafIndices?: readonly number[];
}

export interface SenderKey {
  kid: bigint;
  /** A copy of the epoch's base_key; pass it to the SFrame sender with the KID. */
  baseKey: Uint8Array;
}

export interface SFrameKeyScheduleOptions {
  /** SFrame cipher suite; fixes the expected base_key length (AEAD.Nk). Default AES_128_GCM_SHA256_128. */
  suite?: SFrameSuiteId;
  /** How long the previous epoch stays usable for decryption. Default PREVIOUS_EPOCH_GRACE_MS. */
  graceMs?: number;
  timer?: KeyScheduleTimer;
  /** Called after an epoch's key was erased (grace expiry, rollover, clear()). */
  onEpochErased?: (erased: { epoch: bigint; epochBits: number }) => void;
}

interface EpochKeys {
  epoch: bigint;
  epochBits: number;
  ownLeafIndex: number;
  baseKey: Uint8Array;
  roster: ReadonlySet<number> | undefined;
}

export class SFrameKeySchedule {
  private current: EpochKeys | undefined;
  private previous: EpochKeys | undefined;
  private previousTimer: unknown;
  private readonly keyLength: number;
  private readonly graceMs: number;
  private readonly timer: KeyScheduleTimer;
  private readonly onEpochErased: SFrameKeyScheduleOptions['onEpochErased'];

  constructor(options: SFrameKeyScheduleOptions = {}) {
    const suite = options.suite ?? DEFAULT_SFRAME_SUITE;
    const keyLength = sframeBaseKeyLength(suite);
    if (keyLength === undefined) throw new KeyScheduleError('bad-argument', 'options.suite is not an SFrame cipher suite');
    const graceMs = options.graceMs ?? PREVIOUS_EPOCH_GRACE_MS;
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new KeyScheduleError('bad-argument', 'options.graceMs must be >= 0');
    this.keyLength = keyLength;
    this.graceMs = graceMs;
    this.timer = options.timer ?? globalTimer;
    this.onEpochErased = options.onEpochErased;
  }

  /** The epoch senders encrypt under, if any. */
  get currentEpoch(): bigint | undefined {
    return this.current?.epoch;
  }

  /** The epoch still decryptable during its grace period, if any. */
  get previousEpoch(): bigint | undefined {
    return this.previous?.epoch;
  }

  /**
   * Makes `epoch` the current one: senders switch to it at once; the former current epoch stays
   * decryptable for the grace period. Synchronous in effect (the returned promise is already settled
   * when this returns); async so callers can treat key installation as an asynchronous step.
   */
  async installEpoch(params: InstallEpochParams): Promise<void> {
    const { epoch, ownLeafIndex, epochSecret, rosterLeafIndices } = params;
    if (typeof epoch !== 'bigint' || epoch < 0n) throw new KeyScheduleError('bad-argument', 'epoch must be a non-negative bigint');
    if (!isLeafIndex(ownLeafIndex)) throw new KeyScheduleError('bad-argument', `ownLeafIndex must be an integer in [0, ${MAX_SENDER_INDEX}]`);
    if (!(epochSecret instanceof Uint8Array) || epochSecret.length !== this.keyLength) {
      throw new KeyScheduleError('bad-argument', `epochSecret must be ${this.keyLength} bytes (AEAD.Nk)`);
    }
    let roster: Set<number> | undefined;
    if (rosterLeafIndices !== undefined) {
      if (!rosterLeafIndices.every(isLeafIndex)) throw new KeyScheduleError('bad-argument', 'rosterLeafIndices must be leaf indices');
      roster = new Set(rosterLeafIndices);
      if (!roster.has(ownLeafIndex)) throw new KeyScheduleError('bad-argument', 'rosterLeafIndices must contain ownLeafIndex');
    }
    if (this.current !== undefined && epoch <= this.current.epoch) {
      throw new KeyScheduleError('epoch-not-newer', 'installEpoch: the epoch must be newer than the current one');
    }

    // Keep at most one previous epoch: the one being replaced. An older one goes now.
    this.erasePrevious();
    const next: EpochKeys = { epoch, epochBits: epochBitsOf(epoch), ownLeafIndex, baseKey: epochSecret.slice(), roster };
    const former = this.current;
    this.current = next;
    if (former === undefined) return;
    if (former.epochBits === next.epochBits || this.graceMs === 0) {
      // RFC 9605 §5.2: on rollover of the low E bits the old epoch MUST be removed.
      this.erase(former);
      return;
    }
    this.previous = former;
    this.previousTimer = this.timer.setTimeout(() => {
      this.previousTimer = undefined;
      this.erasePrevious();
    }, this.graceMs);
  }

  /** The KID and base_key this member encrypts a stream with, or undefined before the first epoch. */
  senderKey(context: number): SenderKey | undefined {
    const current = this.current;
    if (current === undefined) return undefined;
    return { kid: encodeKid(context, current.ownLeafIndex, current.epoch), baseKey: current.baseKey.slice() };
  }

  /**
   * The base_key for a received frame's KID, or undefined when the KID names an unknown context, an
   * epoch not held (never installed, or erased after its grace period), or a sender not in that epoch's
   * roster. Never throws: a hostile KID is just unknown.
   */
  resolveBaseKey(kid: bigint): Uint8Array | undefined {
    let fields: KidFields;
    try {
      fields = parseKid(kid);
    } catch {
      return undefined;
    }
    if (!KNOWN_STREAM_CONTEXTS.has(fields.context)) return undefined;
    for (const keys of [this.current, this.previous]) {
      if (keys === undefined || keys.epochBits !== fields.epochBits) continue;
      if (keys.roster !== undefined && !keys.roster.has(fields.senderIndex)) return undefined;
      return keys.baseKey.slice();
    }
    return undefined;
  }

  /** Splits a KID into context, sender leaf index and epoch bits (RFC 9605 §5.2). */
  parseKid(kid: bigint): KidFields {
    return parseKid(kid);
  }

  /** Erases every key at once (the member left or was removed). */
  clear(): void {
    this.erasePrevious();
    if (this.current !== undefined) {
      const current = this.current;
      this.current = undefined;
      this.erase(current);
    }
  }

  private erasePrevious(): void {
    if (this.previousTimer !== undefined) {
      this.timer.clearTimeout(this.previousTimer);
      this.previousTimer = undefined;
    }
    if (this.previous !== undefined) {
      const previous = this.previous;
      this.previous = undefined;
      this.erase(previous);
    }
  }

  private erase(keys: EpochKeys): void {
    keys.baseKey.fill(0);
    this.onEpochErased?.({ epoch: keys.epoch, epochBits: keys.epochBits });
  }
}

function isLeafIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SENDER_INDEX;
}
