import { clearPrefixLength, type MediaKind } from './codec-profile.js';
import { SFrameReceiver, SFrameSender, type CipherSuiteId, type Result, type SFrameError } from '../sframe/index.js';
import { parseKid, STREAM_CONTEXT, type SFrameKeySchedule } from '../keys/index.js';

/**
 * Encrypts and decrypts one media stream's encoded frames with SFrame under keys from the MLS key
 * schedule. Wire layout of a protected frame:
 *
 *   clear prefix (codec profile) ‖ SFrame header ‖ ciphertext ‖ tag      with AAD = header ‖ clear prefix
 *
 * The clear prefix is SFrame metadata (RFC 9605 §4.4.3): authenticated, not encrypted. Nothing here
 * throws into the media pipeline; every failure is a typed result the worker counts.
 */

export type FrameCryptoError = SFrameError | { code: 'no-key'; detail: string };

export class FrameEncryptor {
  private readonly sender: SFrameSender;
  private currentKid: bigint | undefined;
  private keyChange: Promise<void> | undefined;

  constructor(
    readonly kind: MediaKind,
    suite: CipherSuiteId,
    private readonly keys: SFrameKeySchedule,
  ) {
    this.sender = new SFrameSender(suite);
  }

  async encrypt(frame: Uint8Array): Promise<Result<Uint8Array, FrameCryptoError>> {
    const key = this.keys.senderKey(STREAM_CONTEXT[this.kind]);
    if (!key) return { ok: false, error: { code: 'no-key', detail: 'no epoch key installed yet' } };
    if (key.kid !== this.currentKid) {
      // The first frame of a new epoch switches the key; frames racing it wait for the same switch.
      this.currentKid = key.kid;
      this.keyChange = this.sender.setKey(key.kid, key.baseKey).then(() => undefined);
    }
    await this.keyChange;
    const prefixLength = clearPrefixLength(this.kind, frame);
    const prefix = frame.subarray(0, prefixLength);
    const sealed = await this.sender.encrypt(frame.subarray(prefixLength), prefix);
    if (!sealed.ok) return sealed;
    const out = new Uint8Array(prefixLength + sealed.value.length);
    out.set(prefix, 0);
    out.set(sealed.value, prefixLength);
    return { ok: true, value: out };
  }
}

export interface DecryptedFrame {
  frame: Uint8Array;
  kid: bigint;
  /** MLS leaf index of the member whose key sealed the frame (RFC 9605 §5.2): the frame's true author. */
  senderLeafIndex: number;
}

export class FrameDecryptor {
  private readonly receiver: SFrameReceiver;
  /** KIDs this stream has keys cached for, so an erased epoch's derived keys go too. */
  private readonly kidsInUse = new Set<bigint>();

  constructor(
    readonly kind: MediaKind,
    suite: CipherSuiteId,
    private readonly keys: SFrameKeySchedule,
  ) {
    this.receiver = new SFrameReceiver(suite, { resolveBaseKey: (kid) => this.keys.resolveBaseKey(kid) });
  }

  async decrypt(frame: Uint8Array): Promise<Result<DecryptedFrame, FrameCryptoError>> {
    const prefixLength = clearPrefixLength(this.kind, frame);
    const prefix = frame.subarray(0, prefixLength);
    const opened = await this.receiver.decrypt(frame.subarray(prefixLength), prefix);
    if (!opened.ok) return opened;
    this.kidsInUse.add(opened.value.kid);
    const out = new Uint8Array(prefixLength + opened.value.payload.length);
    out.set(prefix, 0);
    out.set(opened.value.payload, prefixLength);
    return {
      ok: true,
      value: { frame: out, kid: opened.value.kid, senderLeafIndex: parseKid(opened.value.kid).senderIndex },
    };
  }

  /**
   * The key schedule erased an epoch (grace period over, or this member was removed): drop the SFrame
   * keys this receiver derived from it, so nothing of that epoch stays usable here.
   */
  forgetEpoch(epochBits: number): void {
    for (const kid of this.kidsInUse) {
      if (parseKid(kid).epochBits !== epochBits) continue;
      this.receiver.removeKey(kid);
      this.kidsInUse.delete(kid);
    }
  }
}
