import { KID_CONTEXT_BITS, KID_EPOCH_BITS, KID_SENDER_BITS, MAX_SENDER_INDEX } from './constants.js';
import { KeyScheduleError } from './errors.js';

/**
 * KID layout for SFrame keys from MLS (RFC 9605 §5.2):
 *
 *     KID = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))
 *
 *       64-S-E bits   S bits   E bits
 *     +-------------+--------+-------+
 *     | Context ID  | Index  | Epoch |
 *     +-------------+--------+-------+
 *
 * with this profile's E = 8 and S = 16 (see constants.ts).
 */

export interface KidFields {
  /** Stream context chosen by the sender (STREAM_CONTEXT). */
  context: number;
  /** The sender's MLS leaf index. */
  senderIndex: number;
  /** The low E bits of the MLS epoch. */
  epochBits: number;
}

const E = BigInt(KID_EPOCH_BITS);
const S = BigInt(KID_SENDER_BITS);
const EPOCH_MASK = (1n << E) - 1n;
const SENDER_MASK = (1n << S) - 1n;
const MAX_CONTEXT = 2 ** KID_CONTEXT_BITS - 1;
const MAX_KID = (1n << 64n) - 1n;

/** The low E bits of an MLS epoch, as carried in a KID. */
export function epochBitsOf(epoch: bigint): number {
  return Number(epoch & EPOCH_MASK);
}

/** Builds the KID of a sender's stream in an epoch (RFC 9605 §5.2). Throws KeyScheduleError on bad input. */
export function encodeKid(context: number, senderIndex: number, epoch: bigint): bigint {
  if (!Number.isSafeInteger(context) || context < 0 || context > MAX_CONTEXT) {
    throw new KeyScheduleError('bad-argument', `context must be an integer in [0, 2^${KID_CONTEXT_BITS})`);
  }
  if (!Number.isSafeInteger(senderIndex) || senderIndex < 0 || senderIndex > MAX_SENDER_INDEX) {
    throw new KeyScheduleError('bad-argument', `senderIndex must be an integer in [0, 2^${KID_SENDER_BITS})`);
  }
  if (typeof epoch !== 'bigint' || epoch < 0n) {
    throw new KeyScheduleError('bad-argument', 'epoch must be a non-negative bigint');
  }
  return (BigInt(context) << (S + E)) | (BigInt(senderIndex) << E) | (epoch & EPOCH_MASK);
}

/** Splits a KID into its fields (RFC 9605 §5.2). Throws KeyScheduleError for a KID outside [0, 2^64). */
export function parseKid(kid: bigint): KidFields {
  if (typeof kid !== 'bigint' || kid < 0n || kid > MAX_KID) {
    throw new KeyScheduleError('bad-argument', 'kid must be a bigint in [0, 2^64)');
  }
  return {
    context: Number(kid >> (S + E)),
    senderIndex: Number((kid >> E) & SENDER_MASK),
    epochBits: Number(kid & EPOCH_MASK),
  };
}
