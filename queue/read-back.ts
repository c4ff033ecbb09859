import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MessageHeader } from '@aws-crypto/client-node';
import type { Queryable } from './catalog.js';
import { decryptingStream, ESDK_SUITE, HashingMeter, headerKeyRefs } from './envelope.js';
import { SealError } from './errors.js';
import { openDataKey } from './keys/data-keys.js';
import type { KeyRoot } from './keys/key-root.js';
import type { ObjectStore } from './object-store.js';

/**
 * Reads a stored object back and decrypts it, streaming, hashing both sides: what `verify-segment` and
 * `chaperone verify` both do. The object must be the committing unsigned suite under the expected key and
 * carry exactly the expected encryption context; GCM authentication of every frame and the key commitment
 * are checked by the Encryption SDK. Nothing is kept: plaintext is hashed and dropped.
 */

export interface ReadBackResult {
  ciphertextSha256: string;
  ciphertextBytes: number;
  plaintextSha256: string;
  plaintextBytes: number;
}

export async function readBack(params: {
  db: Queryable;
  store: ObjectStore;
  keyRoot: KeyRoot;
  objectKey: string;
  versionId?: string | undefined;
  keyRef: string;
  expectedContext: Record<string, string>;
  onProgress?: (ciphertextBytes: number) => void;
}): Promise<ReadBackResult> {
  const key = await openDataKey(params.db, params.keyRoot, params.keyRef);
  try {
    const { body } = await params.store.getStream(params.objectKey, params.versionId);
    const ciphertext = new HashingMeter();
    const plaintext = new HashingMeter();
    const decrypt = decryptingStream(key);
    let headerProblem: string | undefined;
    decrypt.once('MessageHeader', (header: MessageHeader) => {
      const context = header.encryptionContext as Record<string, string>;
      const expected = params.expectedContext;
      const same = Object.keys(context).length === Object.keys(expected).length && Object.entries(expected).every(([k, v]) => context[k] === v);
      if (header.suiteId !== ESDK_SUITE) headerProblem = `object uses suite 0x${header.suiteId.toString(16)}, not the committing unsigned 0x0478`;
      else if (!same) headerProblem = `object encryption context ${JSON.stringify(context)} differs from the expected ${JSON.stringify(expected)}`;
      else if (!headerKeyRefs(header).includes(params.keyRef)) headerProblem = `object header does not name key ${params.keyRef}`;
      if (headerProblem) decrypt.destroy(new SealError('CHAP_SEAL_HEADER_MISMATCH', headerProblem, true));
    });
    let lastProgress = 0;
    ciphertext.on('data', () => {
      if (params.onProgress && ciphertext.bytes - lastProgress >= 8 * 1024 * 1024) {
        lastProgress = ciphertext.bytes;
        params.onProgress(ciphertext.bytes);
      }
    });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    try {
      await pipeline(body, ciphertext, decrypt, plaintext, sink);
    } catch (error) {
      if (error instanceof SealError) throw error;
      const name = (error as Error).name;
      // Network trouble while reading is transient; anything the decryptor rejects is permanent.
      if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes((error as NodeJS.ErrnoException).code ?? '') || name === 'AbortError' || name === 'TimeoutError') {
        throw new SealError('CHAP_SEAL_S3_UNAVAILABLE', `reading ${params.objectKey} back failed (${(error as Error).message}); will retry`, false, { cause: error });
      }
      throw new SealError('CHAP_SEAL_DECRYPT_FAILED', `${params.objectKey} does not decrypt: ${(error as Error).message}`, true, { cause: error });
    }
    params.onProgress?.(ciphertext.bytes);
    return { ciphertextSha256: ciphertext.sha256, ciphertextBytes: ciphertext.bytes, plaintextSha256: plaintext.sha256, plaintextBytes: plaintext.bytes };
  } finally {
    key.dispose();
  }
}
