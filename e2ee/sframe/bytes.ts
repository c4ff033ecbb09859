// Small byte helpers shared by the SFrame modules (the library has no Node Buffer and no TextEncoder).

/**
 * Bytes WebCrypto accepts: a view of a non-shared ArrayBuffer (WebIDL BufferSource has no [AllowShared]).
 * The public API takes any Uint8Array and converts at the boundary with {@link cryptoBytes}.
 */
export type CryptoBytes = Uint8Array<ArrayBuffer>;

export const EMPTY_BYTES: CryptoBytes = new Uint8Array(0);

/**
 * True for a Uint8Array (the only byte type the public API takes), Node Buffers included. Checked by tag
 * rather than `instanceof` so arrays from another realm (a worker, a vm context) are recognised.
 */
export function isBytes(value: unknown): value is Uint8Array {
  if (value instanceof Uint8Array) return true;
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]';
}

/**
 * The same view when it is backed by a plain ArrayBuffer (the usual case: no copy), else a copy that is.
 * Checked by tag, so buffers from another realm are recognised.
 */
export function cryptoBytes(bytes: Uint8Array): CryptoBytes {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer || Object.prototype.toString.call(buffer) === '[object ArrayBuffer]') return bytes as CryptoBytes;
  return new Uint8Array(bytes);
}

/** Bytes of an ASCII string (labels are fixed ASCII text). */
export function ascii(text: string): CryptoBytes {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): CryptoBytes {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Compares two equal-length byte strings without an early exit, so the time taken does not reveal
 * where a forged tag first differs (RFC 9605 §4.5.1 constant_time_equal).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Writes `value` (an integer below 2^53) as 8 big-endian bytes, RFC 9605's encode_big_endian(x, 8). */
export function writeUint64(out: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value >>> 0;
  out[offset] = high >>> 24;
  out[offset + 1] = (high >>> 16) & 0xff;
  out[offset + 2] = (high >>> 8) & 0xff;
  out[offset + 3] = high & 0xff;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = (low >>> 16) & 0xff;
  out[offset + 6] = (low >>> 8) & 0xff;
  out[offset + 7] = low & 0xff;
}
