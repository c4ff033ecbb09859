import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MessageHeader } from '@aws-crypto/client-node';
import type { Queryable } from '../../queue/catalog.js';
import { decryptingStream, ESDK_SUITE, headerKeyRefs } from '../../queue/envelope.js';
import { openDataKey } from '../../queue/keys/data-keys.js';
import type { KeyRoot } from '../../queue/keys/key-root.js';
import type { ObjectStore } from '../../queue/object-store.js';
import { LifecycleError } from '../lifecycle/errors.js';

/**
 * The plaintext of one sealed segment, streamed for an export bundle and checked against the manifest
 * as it passes: the object header must be the committing suite under the expected key and context, every
 * frame is authenticated by the Encryption SDK, and at the end the plaintext SHA-256 and size must equal
 * the manifest's — otherwise the iteration throws CHAP_RECORDS_INTEGRITY and the caller abandons the whole
 * bundle (its HMAC is never written, so a cut bundle cannot pass step 2 of DECRYPT.txt). The export has
 * already read every segment back once (queue/read-back.ts) before writing anything; this second check
 * covers an object changed in between.
 */
export async function* segmentPlaintext(
  deps: { db: Queryable; store: ObjectStore; keyRoot: KeyRoot },
  segment: { objectKey: string; versionId?: string | undefined; keyRef: string; context: Record<string, string>; plaintext: { sha256: string; bytes: number } },
): AsyncGenerator<Buffer> {
  const key = await openDataKey(deps.db, deps.keyRoot, segment.keyRef);
  try {
    const { body } = await deps.store.getStream(segment.objectKey, segment.versionId);
    const decrypt = decryptingStream(key);
    decrypt.once('MessageHeader', (header: MessageHeader) => {
      const context = header.encryptionContext as Record<string, string>;
      const same = Object.keys(context).length === Object.keys(segment.context).length && Object.entries(segment.context).every(([k, v]) => context[k] === v);
      if (header.suiteId !== ESDK_SUITE || !same || !headerKeyRefs(header).includes(segment.keyRef)) {
        decrypt.destroy(new LifecycleError('CHAP_RECORDS_INTEGRITY', `${segment.objectKey}: the stored object is not the sealed one (suite, context or key differs)`));
      }
    });
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    const done = pipeline(body, decrypt, out);
    const hash = createHash('sha256');
    let bytes = 0;
    let complete = false;
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes > segment.plaintext.bytes) throw new LifecycleError('CHAP_RECORDS_INTEGRITY', `${segment.objectKey}: more plaintext than the manifest's ${segment.plaintext.bytes} bytes`);
        yield chunk;
      }
      await done;
      complete = true;
    } catch (error) {
      if (error instanceof LifecycleError) throw error;
      throw new LifecycleError('CHAP_RECORDS_INTEGRITY', `${segment.objectKey} does not decrypt as sealed: ${(error as Error).message}`, undefined, { cause: error });
    } finally {
      // Also when the consumer stops early: stop reading from S3.
      if (!complete) {
        out.destroy();
        await done.catch(() => undefined);
      }
    }
    if (bytes !== segment.plaintext.bytes || hash.digest('hex') !== segment.plaintext.sha256) {
      throw new LifecycleError('CHAP_RECORDS_INTEGRITY', `${segment.objectKey}: decrypted bytes differ from the signed manifest`);
    }
  } finally {
    key.dispose();
  }
}
