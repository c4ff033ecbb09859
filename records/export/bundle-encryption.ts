import { createCipheriv, createHash, createHmac, createPublicKey, publicEncrypt, randomBytes, constants, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { badInput } from '../lifecycle/errors.js';

/**
 * Encryption of an export bundle to a recipient's public key, in a form that standard OpenSSL (1.1.1 or 3.x)
 * opens with no special software — the recipient may be a patient's tool or a lawyer's workstation:
 *
 *   bundle.tar.enc        AES-256-CBC (PKCS#7 padding) of the bundle tar       `openssl enc -d -aes-256-cbc -K … -iv …`
 *   bundle.tar.enc.hmac   HMAC-SHA256 over bundle.tar.enc, hex (encrypt-then-MAC) `openssl dgst -sha256 -mac HMAC …`
 *   key.rsa-oaep          RSA-OAEP (SHA-256, MGF1-SHA-256) of the ASCII line "<aes key hex> <iv hex> <mac key hex>\n"
 *                                                                               `openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep …`
 *
 * CBC is used because `openssl enc` does not do AEAD modes; the separate HMAC key and the check before
 * decryption make it encrypt-then-MAC. Inside, every file is also covered by the signed manifest.
 */

export const MIN_RSA_BITS = 2048;

export function parseRecipientKey(pem: unknown): KeyObject {
  if (typeof pem !== 'string' || pem.length > 16_384 || !pem.includes('-----BEGIN')) throw badInput('recipientPublicKey', 'must be a PEM public key (-----BEGIN PUBLIC KEY-----), RSA of at least 2048 bits');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw badInput('recipientPublicKey', 'is not a readable PEM public key; export it with: openssl pkey -in recipient.pem -pubout');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) throw badInput('recipientPublicKey', `must be an RSA key of at least ${MIN_RSA_BITS} bits (got ${key.asymmetricKeyType} ${bits || ''})`.trim());
  return key;
}

/** SHA-256 of the recipient key's DER SubjectPublicKeyInfo: what the audit log records about the recipient. */
export function recipientFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex');
}

export interface BundleCipher {
  /** Plaintext tar in, ciphertext out; HMAC computed over the ciphertext as it passes. */
  encryptor: Transform;
  /** Hex HMAC-SHA256 of everything `encryptor` emitted; call after it has ended. */
  macHex(): string;
  /** RSA-OAEP-wrapped key line. */
  wrappedKey: Buffer;
}

export function bundleCipher(recipient: KeyObject): BundleCipher {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const macKey = randomBytes(32);
  const line = Buffer.from(`${key.toString('hex')} ${iv.toString('hex')} ${macKey.toString('hex')}\n`, 'ascii');
  const wrappedKey = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, line);
  line.fill(0);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const mac = createHmac('sha256', macKey);
  key.fill(0);
  macKey.fill(0);
  let digest: string | undefined;
  const encryptor = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const out = cipher.update(chunk);
      mac.update(out);
      callback(null, out);
    },
    flush(callback: TransformCallback) {
      const out = cipher.final();
      mac.update(out);
      digest = mac.digest('hex');
      callback(null, out);
    },
  });
  return {
    encryptor,
    wrappedKey,
    macHex() {
      if (digest === undefined) throw new Error('bundleCipher: the encryptor has not ended');
      return digest;
    },
  };
}
