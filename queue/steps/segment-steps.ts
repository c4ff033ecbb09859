import { getSegment, markHashed, markStored, markVerified, type SegmentKey } from '../catalog.js';
import { encryptShielded, segmentObjectContext } from '../envelope.js';
import { SealError } from '../errors.js';
import { segmentObjectKey } from '../jobs.js';
import { getOrCreateDataKey } from '../keys/data-keys.js';
import { readBack } from '../read-back.js';
import type { SealServices } from '../services.js';

/**
 * The three per-segment steps. Each reads the segment's catalog row first and returns at once if the row
 * is already past it (a retry or a second worker after a stall changes nothing); each ends with one
 * guarded catalog transition. Plaintext is only ever streamed: read in frame-sized chunks, hashed and/or
 * encrypted, never held whole.
 */

export type StepOutcome = { done: true; skipped: boolean; bytes?: number };

const SEGMENT_OBJECT_FORMAT = 'chaperone-segment/v1';

/** hash-segment: SHA-256 and size of the spool file, recorded before anything else reads it. */
export async function hashSegment(services: SealServices, key: SegmentKey): Promise<StepOutcome> {
  const segment = await getSegment(services.pool, key);
  if (segment.state !== 'spooled') return { done: true, skipped: true };
  const { path } = await services.spool.resolve(key.recordingId, segment.spoolFile);
  let hashed: { sha256: string; bytes: number };
  try {
    hashed = await services.spool.hashFile(path);
  } catch (error) {
    throw new SealError('CHAP_SEAL_SPOOL_MISSING', `reading ${key.recordingId}/${segment.spoolFile} failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); will retry`, false, { cause: error });
  }
  await markHashed(services.pool, key, hashed.sha256, hashed.bytes);
  return { done: true, skipped: false, bytes: hashed.bytes };
}

/**
 * store-segment: spool file → ESDK encrypt under the track key → (SHA-256 of the ciphertext) → S3
 * multipart upload. If the file's length is no longer what was hashed, the body errors at its end, the
 * upload is aborted and the failure is permanent; a change of content is caught by verify-segment.
 */
export async function storeSegment(services: SealServices, key: SegmentKey): Promise<StepOutcome> {
  const { pool, store, keyRoot, spool, frameLengthBytes } = services;
  const segment = await getSegment(pool, key);
  if (segment.state === 'stored' || segment.state === 'verified') return { done: true, skipped: true };
  if (segment.state !== 'hashed') throw new SealError('CHAP_SEAL_CATALOG_STATE', `segment ${key.recordingId}/${key.trackId}/${key.segmentNo} is ${segment.state}, expected hashed`, true);
  const { path } = await spool.resolve(key.recordingId, segment.spoolFile);
  const objectKey = segmentObjectKey(key.recordingId, key.trackId, key.segmentNo);
  // A worker killed mid-upload leaves an open multipart upload of this key: abort it before starting again.
  await store.abortIncompleteUploads(objectKey);
  const dataKey = await getOrCreateDataKey(pool, keyRoot, 'track', key.recordingId, key.trackId);
  try {
    const run = encryptShielded(spool.open(path), dataKey, segmentObjectContext(key.recordingId, key.trackId, key.segmentNo), {
      frameLength: frameLengthBytes,
      expectedBytes: segment.plaintextBytes!,
      describe: `spool file ${key.recordingId}/${segment.spoolFile}`,
    });
    const uploaded = store.putStream(objectKey, run.output, { 'chaperone-format': SEGMENT_OBJECT_FORMAT }).catch((error: unknown) => {
      run.abandon();
      throw error;
    });
    const [producedResult, uploadedResult] = await Promise.allSettled([run.done, uploaded]);
    // A check of our own (hash mismatch) names the cause; else an upload failure does (the read side then
    // only stopped because it was abandoned); a read failure alone is transient.
    if (producedResult.status === 'rejected' && producedResult.reason instanceof SealError) throw producedResult.reason;
    if (uploadedResult.status === 'rejected') throw uploadedResult.reason;
    if (producedResult.status === 'rejected') {
      const error = producedResult.reason as Error;
      throw new SealError('CHAP_SEAL_SPOOL_MISSING', `reading ${key.recordingId}/${segment.spoolFile} failed: ${error.message}`, false, { cause: error });
    }
    const ciphertext = run.ciphertext;
    const put = uploadedResult.value;
    const recorded = await markStored(pool, key, {
      ciphertextSha256: ciphertext.sha256,
      ciphertextBytes: ciphertext.bytes,
      objectKey,
      objectVersionId: put.versionId,
      objectEtag: put.etag,
      sse: put.sse,
      keyRef: dataKey.keyRef,
    });
    if (!recorded) services.logger.warn({ ...key, objectKey }, 'segment was stored by another run first; its catalog entry stands');
    return { done: true, skipped: !recorded, bytes: run.plaintextBytes };
  } finally {
    dataKey.dispose();
  }
}

/** verify-segment: read the object back, decrypt it, and compare both hashes and sizes with the catalog. */
export async function verifySegment(services: SealServices, key: SegmentKey, onProgress?: (bytes: number) => void): Promise<StepOutcome> {
  const { pool, store, keyRoot } = services;
  const segment = await getSegment(pool, key);
  if (segment.state === 'verified') return { done: true, skipped: true };
  if (segment.state !== 'stored') throw new SealError('CHAP_SEAL_CATALOG_STATE', `segment ${key.recordingId}/${key.trackId}/${key.segmentNo} is ${segment.state}, expected stored`, true);
  const read = await readBack({
    db: pool,
    store,
    keyRoot,
    objectKey: segment.objectKey!,
    versionId: segment.objectVersionId ?? undefined,
    keyRef: segment.keyRef!,
    expectedContext: segmentObjectContext(key.recordingId, key.trackId, key.segmentNo),
    ...(onProgress ? { onProgress } : {}),
  });
  if (read.ciphertextSha256 !== segment.ciphertextSha256 || read.ciphertextBytes !== segment.ciphertextBytes) {
    throw new SealError('CHAP_SEAL_CIPHERTEXT_MISMATCH', `stored object ${segment.objectKey} is not the one uploaded (SHA-256 ${read.ciphertextSha256}, ${read.ciphertextBytes} bytes; uploaded ${segment.ciphertextSha256}, ${segment.ciphertextBytes} bytes)`, true);
  }
  if (read.plaintextSha256 !== segment.plaintextSha256 || read.plaintextBytes !== segment.plaintextBytes) {
    throw new SealError('CHAP_SEAL_HASH_MISMATCH', `stored object ${segment.objectKey} decrypts to other bytes than the spool file hashed (SHA-256 ${read.plaintextSha256}; recorded ${segment.plaintextSha256})`, true);
  }
  await markVerified(pool, key);
  return { done: true, skipped: false, bytes: read.plaintextBytes };
}
