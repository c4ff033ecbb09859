// The SFrame header (RFC 9605 §4.3): one config byte |X|K|Y|C| followed by the KID and then the CTR,
// each as a minimal big-endian unsigned integer of 1-8 bytes. A value 0-7 rides in the config byte
// itself (flag 0); a larger value is appended and the 3-bit field holds its length minus one (flag 1).

import { fail, ok, type Result } from './errors.js';

/** The largest KID or CTR a header can carry: 8 bytes (RFC 9605 §4.3). */
export const MAX_HEADER_VALUE = 0xffff_ffff_ffff_ffffn;

/** The longest header: config byte + 8-byte KID + 8-byte CTR. */
export const MAX_HEADER_LENGTH = 17;

export interface SFrameHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
  /** Bytes the header occupies at the start of the frame; the ciphertext follows. */
  readonly length: number;
}

/** True when `value` is a bigint a header can carry (0 <= value <= 2^64-1). */
export function isHeaderValue(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= 0n && value <= MAX_HEADER_VALUE;
}

/** Bytes appended after the config byte for one field: 0 when the value fits in 3 bits, else its minimal length. */
function fieldLength(value: bigint): number {
  if (value < 8n) return 0;
  if (value <= 0xffn) return 1;
  if (value <= 0xffffn) return 2;
  if (value <= 0xff_ffffn) return 3;
  if (value <= 0xffff_ffffn) return 4;
  if (value <= 0xff_ffff_ffffn) return 5;
  if (value <= 0xffff_ffff_ffffn) return 6;
  if (value <= 0xff_ffff_ffff_ffffn) return 7;
  return 8;
}

/** Header length for a (KID, CTR) pair. Both must satisfy {@link isHeaderValue}. */
export function headerLength(kid: bigint, ctr: bigint): number {
  return 1 + fieldLength(kid) + fieldLength(ctr);
}

function writeField(out: Uint8Array, offset: number, value: bigint, length: number): void {
  // Up to 6 bytes fit exactly in a double: do the byte loop in number arithmetic.
  if (length <= 6) {
    let v = Number(value);
    for (let i = offset + length - 1; i >= offset; i--) {
      out[i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    return;
  }
  let v = value;
  for (let i = offset + length - 1; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * Writes the header for (kid, ctr) into `out` at `offset` and returns its length. The caller guarantees
 * both values satisfy {@link isHeaderValue} and that `out` has {@link headerLength} bytes free there;
 * this is the allocation-free form the sender uses to write straight into its output frame.
 */
export function writeHeader(out: Uint8Array, offset: number, kid: bigint, ctr: bigint): number {
  const kidLength = fieldLength(kid);
  const ctrLength = fieldLength(ctr);
  const kidBits = kidLength === 0 ? Number(kid) : 0x8 | (kidLength - 1);
  const ctrBits = ctrLength === 0 ? Number(ctr) : 0x8 | (ctrLength - 1);
  out[offset] = (kidBits << 4) | ctrBits;
  if (kidLength > 0) writeField(out, offset + 1, kid, kidLength);
  if (ctrLength > 0) writeField(out, offset + 1 + kidLength, ctr, ctrLength);
  return 1 + kidLength + ctrLength;
}

/** Encodes a header; 'bad-argument' when KID or CTR is not an integer in [0, 2^64-1]. */
export function encodeHeader(kid: bigint, ctr: bigint): Result<Uint8Array> {
  if (!isHeaderValue(kid)) return fail('bad-argument', 'kid must be a bigint in [0, 2^64-1]');
  if (!isHeaderValue(ctr)) return fail('bad-argument', 'ctr must be a bigint in [0, 2^64-1]');
  const out = new Uint8Array(headerLength(kid, ctr));
  writeHeader(out, 0, kid, ctr);
  return ok(out);
}

function readField(bytes: Uint8Array, offset: number, length: number): bigint {
  if (length <= 6) {
    let v = 0;
    for (let i = offset; i < offset + length; i++) v = v * 256 + bytes[i]!;
    return BigInt(v);
  }
  let v = 0n;
  for (let i = offset; i < offset + length; i++) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/**
 * Decodes the header at the start of `frame`. Errors: 'truncated-header' when the frame ends inside it;
 * 'bad-header' when a KID or CTR is not minimally encoded (§4.3 "MUST be encoded with the minimum number
 * of bytes": a value below 8 in extended form, or a leading zero byte). Accepting only the canonical
 * form means each (KID, CTR) has exactly one header.
 */
export function decodeHeader(frame: Uint8Array): Result<SFrameHeader> {
  if (frame.length < 1) return fail('truncated-header', 'frame is empty');
  const config = frame[0]!;
  const kidExtended = (config & 0x80) !== 0;
  const ctrExtended = (config & 0x08) !== 0;
  const kidLength = kidExtended ? ((config >> 4) & 0x7) + 1 : 0;
  const ctrLength = ctrExtended ? (config & 0x7) + 1 : 0;
  const length = 1 + kidLength + ctrLength;
  if (frame.length < length) {
    return fail('truncated-header', `header needs ${length} bytes, frame has ${frame.length}`);
  }
  let kid: bigint;
  if (kidExtended) {
    if (kidLength > 1 && frame[1] === 0) return fail('bad-header', 'KID has a leading zero byte');
    kid = readField(frame, 1, kidLength);
    if (kid < 8n) return fail('bad-header', 'KID below 8 in extended form');
  } else {
    kid = BigInt((config >> 4) & 0x7);
  }
  let ctr: bigint;
  if (ctrExtended) {
    if (ctrLength > 1 && frame[1 + kidLength] === 0) return fail('bad-header', 'CTR has a leading zero byte');
    ctr = readField(frame, 1 + kidLength, ctrLength);
    if (ctr < 8n) return fail('bad-header', 'CTR below 8 in extended form');
  } else {
    ctr = BigInt(config & 0x7);
  }
  return ok({ kid, ctr, length });
}
