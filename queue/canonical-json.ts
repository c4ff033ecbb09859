import { createHash } from 'node:crypto';

/**
 * Canonical JSON for hashing and signing: object keys sorted by UTF-16 code units, no whitespace, strings
 * as JSON.stringify writes them, integers only. With integers only this is exactly RFC 8785 (JCS), so a
 * verifier in another language reproduces the bytes. `undefined` members are left out; anything else that
 * JSON cannot carry faithfully (floats, NaN, bigint, functions) is refused rather than approximated.
 */
export type CanonicalValue = string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue | undefined };

export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`${path}: canonical JSON carries safe integers only, got ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => canonicalJson(item, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`${path}: ${typeof value} has no canonical JSON form`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
