import { decodeHeader } from './header.js';
import { deriveFrameKey, type FrameKey } from './key-derivation.js';
import { decryptFrame, encryptFrame } from './frame-encryption.js';
import { CIPHER_SUITES } from './suites.js';

async function frameKey(suiteIndex: number): Promise<FrameKey> {
  const derived = await deriveFrameKey(CIPHER_SUITES[suiteIndex]!, 0x1234n, new Uint8Array(16).fill(3));
  if (!derived.ok) throw new Error(derived.error.detail);
  return derived.value;
}

const payload = new Uint8Array(5000).map((_, i) => i * 7);

describe('encryptFrame / decryptFrame (RFC 9605 §4.4.3-4.4.4)', () => {
  test.each(CIPHER_SUITES.map((s, i) => [s.name, i] as const))(
    '%s: the same frame with and without ArrayBuffer.prototype.transfer',
    async (_name, suiteIndex) => {
      const key = await frameKey(suiteIndex);
      // Patch the prototype of the buffers WebCrypto returns (it may belong to another realm than jest's).
      const proto = Object.getPrototypeOf(await crypto.subtle.digest('SHA-256', new Uint8Array(1))) as object;
      const original = Object.getOwnPropertyDescriptor(proto, 'transfer');
      if (original === undefined || typeof original.value !== 'function') throw new Error('runtime lacks ArrayBuffer.prototype.transfer');
      const transfer = original.value as (this: ArrayBuffer, length: number) => ArrayBuffer;
      let transfers = 0;
      let withTransfer;
      let withoutTransfer;
      try {
        Object.defineProperty(proto, 'transfer', {
          ...original,
          value(this: ArrayBuffer, length: number) {
            transfers++;
            return transfer.call(this, length);
          },
        });
        withTransfer = await encryptFrame(key, 300n, payload, new Uint8Array([1, 2]));
        Object.defineProperty(proto, 'transfer', { ...original, value: undefined });
        withoutTransfer = await encryptFrame(key, 300n, payload, new Uint8Array([1, 2]));
      } finally {
        Object.defineProperty(proto, 'transfer', original);
      }
      expect(transfers).toBe(1);
      if (!withTransfer.ok || !withoutTransfer.ok) throw new Error('encrypt failed');
      expect(Buffer.from(withoutTransfer.value).equals(Buffer.from(withTransfer.value))).toBe(true);
      for (const frame of [withTransfer.value, withoutTransfer.value]) {
        expect(frame.byteOffset).toBe(0);
        expect(frame.byteLength).toBe(frame.buffer.byteLength);
        expect(frame.length).toBe(5 + payload.length + key.tagLength); // header: config, 2-byte KID, 2-byte CTR
      }
      const header = decodeHeader(withTransfer.value);
      if (!header.ok) throw new Error(header.error.detail);
      const opened = await decryptFrame(key, header.value, withTransfer.value, new Uint8Array([1, 2]));
      expect(opened.ok && Buffer.from(opened.value).equals(Buffer.from(payload))).toBe(true);
    },
  );

  test('decryptFrame names truncated frames and failed authentication', async () => {
    const key = await frameKey(3);
    const sealed = await encryptFrame(key, 1n, payload, new Uint8Array(0));
    if (!sealed.ok) throw new Error('encrypt failed');
    const header = decodeHeader(sealed.value);
    if (!header.ok) throw new Error(header.error.detail);
    const short = sealed.value.subarray(0, header.value.length + key.tagLength - 1);
    expect(await decryptFrame(key, header.value, short, new Uint8Array(0))).toMatchObject({ ok: false, error: { code: 'truncated-frame' } });
    expect(await decryptFrame(key, header.value, sealed.value, new Uint8Array([0]))).toMatchObject({ ok: false, error: { code: 'auth-failed' } });
  });
});
