/**
 * The SFrame-from-MLS profile of this project (RFC 9605 §5.2). Everything here is a wire decision: every
 * member of a call MUST use the same values, so they are constants, not options.
 */

/**
 * The MLS exporter label of RFC 9605 §5.2, exactly as the RFC states it:
 *
 *     base_key = MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk)
 *
 * One `base_key` per MLS epoch, shared by the whole group. Each sender, and each of a sender's streams,
 * gets its own SFrame key and salt because the KID enters the key derivation of RFC 9605 §4.4.2
 * ("SFrame 1.0 Secret key " + KID + cipher_suite): distinct KIDs ⇒ distinct (key, salt) pairs.
 *
 * Discrepancy, noted on purpose: earlier drafts (draft-ietf-sframe-enc before the RFC, and
 * draft-barnes-sframe-mls) derived `sframe_epoch_secret = MLS-Exporter("SFrame 1.0 Secret", "", Nk)` and
 * then a per-sender `sender_base_key[index] = HKDF-Expand(sframe_epoch_secret, encode_big_endian(index, 4), Nk)`.
 * The published RFC 9605 dropped that per-sender step (the KID already separates senders) and renamed the
 * label. The RFC wins; the one place the RFC still says "sframe_epoch_secret" (the sentence after the KID
 * figure in §5.2) is a leftover of the draft wording and means this `base_key`. The architecture brief's
 * formula matches the RFC.
 */
export const SFRAME_MLS_EXPORTER_LABEL = 'SFrame 1.0 Base Key';

/**
 * E — the number of low-order MLS epoch bits carried in the KID (RFC 9605 §5.2). It bounds the
 * reordering window to 2^E epochs; we keep at most two epochs (current and one previous in grace), so 8
 * bits is ample and keeps the common KID (context 0) at two or three bytes.
 */
export const KID_EPOCH_BITS = 8;

/**
 * S — the number of bits of the sender's MLS leaf index in the KID (RFC 9605 §5.2).
 *
 * Profile choice: the RFC defines S as "the smallest value such that group_size <= (1 << S)", which
 * changes with the group's size and would make a KID unparseable without knowing the size of the group
 * in that frame's epoch. This profile fixes S = 16 for every epoch (up to 65,536 leaves; our calls have a
 * handful), so any member parses any KID the same way. For context 0 the KID value does not depend on S
 * at all; for other contexts it is at most two bytes longer than the minimal form.
 */
export const KID_SENDER_BITS = 16;

/** The context field takes the remaining 64 − S − E = 40 bits (RFC 9605 §5.2, figure "mls-kid"). */
export const KID_CONTEXT_BITS = 64 - KID_SENDER_BITS - KID_EPOCH_BITS;

/** The largest leaf index a KID can carry under this profile. */
export const MAX_SENDER_INDEX = 2 ** KID_SENDER_BITS - 1;

/**
 * Per-stream KID contexts (RFC 9605 §5.2: "a context value chosen by the sender"). A member's audio and
 * video streams use different KIDs, hence different SFrame keys and salts (§4.4.2), and each stream has
 * its own CTR sequence — so two streams of one sender never share a (key, nonce) pair (§7.4 / §4.4.1:
 * "A given base_key MUST NOT be used for encryption by multiple senders", applied per KID).
 * Audio is context 0 so the most frequent frames carry the shortest KID.
 */
export const STREAM_CONTEXT = Object.freeze({ audio: 0, video: 1 } as const);
export type StreamContext = (typeof STREAM_CONTEXT)[keyof typeof STREAM_CONTEXT];
export const KNOWN_STREAM_CONTEXTS: ReadonlySet<number> = new Set(Object.values(STREAM_CONTEXT));

/**
 * How long the previous epoch's keys stay usable for decryption after a new epoch is installed. Frames
 * sealed just before the commit are still in flight (jitter buffers, senders that learn of the commit a
 * little later); after this the keys are erased. Invariant I4 ("the recorder cannot decrypt media sent
 * more than about one second later") is what bounds it from above.
 */
export const PREVIOUS_EPOCH_GRACE_MS = 1000;

/** SFrame cipher suites (RFC 9605 §8.1, Table 5). */
export const SFRAME_SUITE = Object.freeze({
  AES_128_CTR_HMAC_SHA256_80: 0x0001,
  AES_128_CTR_HMAC_SHA256_64: 0x0002,
  AES_128_CTR_HMAC_SHA256_32: 0x0003,
  AES_128_GCM_SHA256_128: 0x0004,
  AES_256_GCM_SHA512_128: 0x0005,
} as const);
export type SFrameSuiteId = (typeof SFRAME_SUITE)[keyof typeof SFRAME_SUITE];

/** The wire profile's default SFrame suite (ARCHITECTURE.md). */
export const DEFAULT_SFRAME_SUITE: SFrameSuiteId = SFRAME_SUITE.AES_128_GCM_SHA256_128;

/**
 * AEAD.Nk per suite (RFC 9605 §4.5 and Table 5): the length of the `base_key` the MLS exporter produces.
 * For the AES-CTR + HMAC suites Nk = Nka + Nh = 16 + 32 (§4.5.1).
 */
const SUITE_NK: Readonly<Record<SFrameSuiteId, number>> = Object.freeze({
  0x0001: 48,
  0x0002: 48,
  0x0003: 48,
  0x0004: 16,
  0x0005: 32,
});

/** AEAD.Nk of an SFrame suite, or undefined for an unknown suite id. */
export function sframeBaseKeyLength(suite: number): number | undefined {
  return (SUITE_NK as Record<number, number | undefined>)[suite];
}
