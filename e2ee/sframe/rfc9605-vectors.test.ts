// Every RFC 9605 test vector (sframe-wg/sframe at 025d568, the version the RFC cites): 289 header cases,
// 3 AES-CTR-HMAC cases, 5 full SFrame cases. kid and ctr reach 2^64-1, which JSON.parse would round to a
// double, so integers are quoted before parsing and read as BigInt.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AeadAuthenticationError, aeadOpen, aeadSeal, importAeadKeys } from './aead.js';
import { decodeHeader, encodeHeader } from './header.js';
import { deriveFrameKey, deriveKeyAndSalt, sframeKeyLabel, sframeSaltLabel } from './key-derivation.js';
import { decryptFrame, encryptFrame } from './frame-encryption.js';
import { frameNonce, nonceSalt } from './nonce.js';
import { cipherSuite, type CipherSuite } from './suites.js';
import { SFrameReceiver } from './sframe-receiver.js';

const VECTORS_PATH = fileURLToPath(new URL('../../../shared/vectors/sframe-rfc9605-test-vectors.json', import.meta.url));

interface HeaderCase { kid: bigint; ctr: bigint; encoded: string }
interface AesCtrHmacCase {
  cipher_suite: number; key: string; enc_key: string; auth_key: string; nonce: string; aad: string; pt: string; ct: string;
}
interface SFrameCase {
  cipher_suite: number; kid: bigint; ctr: bigint; base_key: string; sframe_key_label: string; sframe_salt_label: string;
  sframe_secret: string; sframe_key: string; sframe_salt: string; metadata: string; nonce: string; aad: string; pt: string; ct: string;
}
interface Vectors { header: HeaderCase[]; aes_ctr_hmac: AesCtrHmacCase[]; sframe: SFrameCase[] }

/** Quotes every bare integer value so no number passes through a double, then turns kid/ctr into BigInt. */
function parseVectors(text: string): Vectors {
  const quoted = text.replace(/("(?:kid|ctr|cipher_suite)"\s*:\s*)(\d+)/g, '$1"$2"');
  return JSON.parse(quoted, (key, value: unknown) => {
    if ((key === 'kid' || key === 'ctr') && typeof value === 'string') return BigInt(value);
    if (key === 'cipher_suite' && typeof value === 'string') return Number(value);
    return value;
  }) as Vectors;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(text, 'hex'));
const suiteOf = (id: number): CipherSuite => {
  const suite = cipherSuite(id);
  if (!suite) throw new Error(`vector names unknown suite ${id}`);
  return suite;
};

const rawText = readFileSync(VECTORS_PATH, 'utf8');
const vectors = parseVectors(rawText);

describe('RFC 9605 test vectors', () => {
  test('the file holds exactly 289 header, 3 AES-CTR-HMAC and 5 SFrame cases', () => {
    expect(vectors.header).toHaveLength(289);
    expect(vectors.aes_ctr_hmac).toHaveLength(3);
    expect(vectors.sframe).toHaveLength(5);
  });

  test('plain JSON.parse would corrupt 64 header cases (why the BigInt parse matters)', () => {
    const naive = JSON.parse(rawText) as { header: { kid: number; ctr: number }[] };
    const corrupted = naive.header.filter(
      (c, i) => BigInt(c.kid) !== vectors.header[i]!.kid || BigInt(c.ctr) !== vectors.header[i]!.ctr,
    );
    expect(corrupted).toHaveLength(64);
  });

  describe('header (§4.3)', () => {
    let checked = 0;
    afterAll(() => expect(checked).toBe(289));

    test.each(vectors.header.map((c) => [`kid=${c.kid} ctr=${c.ctr}`, c] as const))('%s', (_name, c) => {
      const encoded = encodeHeader(c.kid, c.ctr);
      expect(encoded.ok && hex(encoded.value)).toBe(c.encoded);
      const decoded = decodeHeader(unhex(c.encoded));
      expect(decoded).toEqual({ ok: true, value: { kid: c.kid, ctr: c.ctr, length: c.encoded.length / 2 } });
      // Decoding reads only the header: trailing ciphertext changes nothing.
      const withBody = decodeHeader(unhex(c.encoded + 'deadbeef'));
      expect(withBody).toEqual(decoded);
      checked++;
    });
  });

  describe('AES-CTR-HMAC AEAD (§4.5.1)', () => {
    let checked = 0;
    afterAll(() => expect(checked).toBe(3));

    test.each(vectors.aes_ctr_hmac.map((c) => [`suite ${c.cipher_suite}`, c] as const))('%s', async (_name, c) => {
      const suite = suiteOf(c.cipher_suite);
      const key = unhex(c.key);
      // derive_subkeys: enc_key = key[..Nka], auth_key = key[Nka..]
      expect(hex(key.subarray(0, suite.Nka))).toBe(c.enc_key);
      expect(hex(key.subarray(suite.Nka))).toBe(c.auth_key);
      const keys = await importAeadKeys(suite, key);
      const pt = unhex(c.pt);
      const sealed = new Uint8Array(await aeadSeal(keys, unhex(c.nonce), unhex(c.aad), pt));
      expect(hex(sealed)).toBe(c.ct);
      const opened = new Uint8Array(await aeadOpen(keys, unhex(c.nonce), unhex(c.aad), unhex(c.ct)));
      expect(hex(opened)).toBe(c.pt);
      // A flipped tag bit, a different AAD or a frame shorter than a tag must not authenticate.
      const forged = unhex(c.ct);
      forged[forged.length - 1]! ^= 1;
      await expect(aeadOpen(keys, unhex(c.nonce), unhex(c.aad), forged)).rejects.toBeInstanceOf(AeadAuthenticationError);
      await expect(aeadOpen(keys, unhex(c.nonce), unhex(c.aad + '00'), unhex(c.ct))).rejects.toBeInstanceOf(AeadAuthenticationError);
      await expect(aeadOpen(keys, unhex(c.nonce), unhex(c.aad), unhex(c.ct).subarray(0, suite.Nt - 1))).rejects.toBeInstanceOf(AeadAuthenticationError);
      checked++;
    });
  });

  describe('full SFrame (§4.4)', () => {
    let checked = 0;
    afterAll(() => expect(checked).toBe(5));

    test.each(vectors.sframe.map((c) => [`suite ${c.cipher_suite}`, c] as const))('%s', async (_name, c) => {
      const suite = suiteOf(c.cipher_suite);
      const baseKey = unhex(c.base_key);
      expect(hex(sframeKeyLabel(c.kid, suite))).toBe(c.sframe_key_label);
      expect(hex(sframeSaltLabel(c.kid, suite))).toBe(c.sframe_salt_label);

      // sframe_secret = HKDF-Extract("", base_key) = HMAC-Hash(salt = Nh zero bytes, base_key) (RFC 5869).
      const extractKey = await crypto.subtle.importKey('raw', new Uint8Array(suite.Nh), { name: 'HMAC', hash: suite.hash }, false, ['sign']);
      expect(hex(new Uint8Array(await crypto.subtle.sign('HMAC', extractKey, baseKey)))).toBe(c.sframe_secret);

      const raw = await deriveKeyAndSalt(suite, c.kid, baseKey);
      expect(hex(raw.key)).toBe(c.sframe_key);
      expect(hex(raw.salt)).toBe(c.sframe_salt);
      // Erratum 8321: nonce = sframe_salt XOR encode_big_endian(CTR, Nn).
      expect(hex(frameNonce(nonceSalt(raw.salt), c.ctr))).toBe(c.nonce);

      const frameKey = await deriveFrameKey(suite, c.kid, baseKey);
      if (!frameKey.ok) throw new Error(frameKey.error.detail);
      const header = encodeHeader(c.kid, c.ctr);
      expect(header.ok && hex(header.value) + c.metadata).toBe(c.aad);

      const sealed = await encryptFrame(frameKey.value, c.ctr, unhex(c.pt), unhex(c.metadata));
      expect(sealed.ok && hex(sealed.value)).toBe(c.ct);

      const decodedHeader = decodeHeader(unhex(c.ct));
      if (!decodedHeader.ok) throw new Error(decodedHeader.error.detail);
      const opened = await decryptFrame(frameKey.value, decodedHeader.value, unhex(c.ct), unhex(c.metadata));
      expect(opened.ok && hex(opened.value)).toBe(c.pt);

      // The public receiver opens the vector too, once.
      const receiver = new SFrameReceiver(suite.id);
      expect((await receiver.addKey(c.kid, baseKey)).ok).toBe(true);
      const received = await receiver.decrypt(unhex(c.ct), unhex(c.metadata));
      expect(received.ok && { pt: hex(received.value.payload), kid: received.value.kid, ctr: received.value.ctr }).toEqual({
        pt: c.pt,
        kid: c.kid,
        ctr: c.ctr,
      });
      expect(await receiver.decrypt(unhex(c.ct), unhex(c.metadata))).toMatchObject({ ok: false, error: { code: 'replayed' } });
      checked++;
    });
  });
});
