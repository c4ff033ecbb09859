/**
 * The few TLS-presentation-language encodings (RFC 9420 §2.1) the delivery service needs to build
 * external proposals itself (so a remote signer such as KMS can sign them; see external-proposal.ts).
 */

/** Variable-length integer vector prefix (RFC 9420 §2.1.2): 1, 2 or 4 bytes. */
export function varint(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
  if (length < 0x40) return Uint8Array.of(length);
  if (length < 0x4000) return Uint8Array.of(0x40 | (length >> 8), length & 0xff);
  if (length < 0x40000000) return Uint8Array.of(0x80 | (length >>> 24), (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
  throw new RangeError('length too large for an MLS vector');
}

/** opaque data<V> */
export function vector(data: Uint8Array): Uint8Array {
  const prefix = varint(data.length);
  const out = new Uint8Array(prefix.length + data.length);
  out.set(prefix, 0);
  out.set(data, prefix.length);
  return out;
}

export function uint8(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}

export function uint16(value: number): Uint8Array {
  return Uint8Array.of((value >> 8) & 0xff, value & 0xff);
}

export function uint32(value: number): Uint8Array {
  return Uint8Array.of((value >>> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
}

export function uint64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  let v = value;
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
