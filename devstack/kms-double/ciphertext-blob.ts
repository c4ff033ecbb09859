import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsError } from './errors.js';

/**
 * The double's symmetric ciphertext blob. Like a real KMS blob it is self-describing — it names the KMS
 * key that produced it, so Decrypt needs no KeyId — and it authenticates the encryption context, so a
 * Decrypt with any other context fails. Layout (all lengths big-endian):
 *
 *   "KMSD" ‖ version(u8 = 1) ‖ arnLength(u16) ‖ keyArn (UTF-8) ‖ iv(12) ‖ tag(16) ‖ AES-256-GCM ciphertext
 *
 * AAD = "KMSD1" ‖ keyArn ‖ 0x00 ‖ canonical encryption context (JSON of [key, value] pairs sorted by key).
 * It is not AWS's private format (nobody outside AWS can produce that); callers must treat it as opaque.
 */

const MAGIC = Buffer.from('KMSD', 'ascii');
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type EncryptionContext = Readonly<Record<string, string>>;

export function canonicalContext(context: EncryptionContext): string {
  return JSON.stringify(Object.keys(context).sort().map((key) => [key, context[key]]));
}

function aad(keyArn: string, context: EncryptionContext): Buffer {
  return Buffer.concat([Buffer.from(`KMSD${VERSION}`, 'ascii'), Buffer.from(keyArn, 'utf8'), Buffer.alloc(1), Buffer.from(canonicalContext(context), 'utf8')]);
}

export function sealBlob(keyArn: string, keyMaterial: Buffer, plaintext: Buffer, context: EncryptionContext): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyMaterial, iv);
  cipher.setAAD(aad(keyArn, context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const arn = Buffer.from(keyArn, 'utf8');
  const header = Buffer.alloc(MAGIC.length + 1 + 2);
  MAGIC.copy(header, 0);
  header.writeUInt8(VERSION, MAGIC.length);
  header.writeUInt16BE(arn.length, MAGIC.length + 1);
  return Buffer.concat([header, arn, iv, cipher.getAuthTag(), body]);
}

/** Reads the key ARN a blob names, without decrypting. Malformed blobs are InvalidCiphertextException. */
export function blobKeyArn(blob: Buffer): string {
  const headerBytes = MAGIC.length + 1 + 2;
  if (blob.length < headerBytes || !blob.subarray(0, MAGIC.length).equals(MAGIC) || blob.readUInt8(MAGIC.length) !== VERSION) {
    throw new KmsError('InvalidCiphertextException', 'The ciphertext is not a valid KMS ciphertext blob.');
  }
  const arnLength = blob.readUInt16BE(MAGIC.length + 1);
  if (blob.length < headerBytes + arnLength + IV_BYTES + TAG_BYTES) {
    throw new KmsError('InvalidCiphertextException', 'The ciphertext is truncated.');
  }
  return blob.subarray(headerBytes, headerBytes + arnLength).toString('utf8');
}

export function openBlob(blob: Buffer, keyMaterial: Buffer, context: EncryptionContext): Buffer {
  const keyArn = blobKeyArn(blob);
  let offset = MAGIC.length + 1 + 2 + Buffer.byteLength(keyArn, 'utf8');
  const iv = blob.subarray(offset, offset + IV_BYTES);
  offset += IV_BYTES;
  const tag = blob.subarray(offset, offset + TAG_BYTES);
  offset += TAG_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyMaterial, iv);
    decipher.setAAD(aad(keyArn, context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(blob.subarray(offset)), decipher.final()]);
  } catch {
    // Real KMS gives no detail either: wrong context and altered ciphertext look the same.
    throw new KmsError('InvalidCiphertextException', 'The ciphertext, encryption context or key does not match.');
  }
}
