import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import type { MessageHeader } from '@aws-crypto/client-node';
import type { Queryable } from '../queue/catalog.js';
import { decryptingStream, ESDK_SUITE, headerKeyRefs } from '../queue/envelope.js';
import { openDataKey } from '../queue/keys/data-keys.js';
import type { KeyRoot } from '../queue/keys/key-root.js';
import type { ObjectStore } from '../queue/object-store.js';

/**
 * Streaming decrypt that fails closed: plaintext of one sealed object, or a byte range of it, produced
 * while it is checked against what was signed (the manifest for a segment, the signed derivative record
 * for a derivative).
 *
 * Design. The Encryption SDK has no ranged decrypt, so every response decrypts from the object's start.
 * 1. Before any byte: the data key must still exist (a destroyed key means deleted); S3's Content-Length
 *    must equal the signed ciphertext size; the ESDK header must name the committing unsigned suite
 *    0x0478, the expected key and exactly the expected encryption context (identifiers of this object).
 * 2. While streaming: every 1 MiB frame is AES-GCM authenticated by the SDK before its plaintext is
 *    emitted (a changed byte stops the stream at that frame); both the ciphertext and the plaintext are
 *    hashed (SHA-256) as they pass.
 * 3. Hold-back: the last `holdBackBytes` of the response (all of it, when shorter) are not released until
 *    the pass has reached the object's end and the ciphertext SHA-256, the plaintext SHA-256 and both sizes
 *    equal the signed values. For a Range that ends before the object's end, decryption continues (the
 *    bytes are hashed and dropped) to the end before the held-back tail is released. On a mismatch the
 *    tail is never released and the stream errors: a response that had not started yet gets an error
 *    status; one that had started is cut short of its declared Content-Length, so a player never holds
 *    the complete file.
 * Objects up to `holdBackBytes` are thus fully verified before the first byte leaves; larger ones start
 * at once. Memory per playback: the hold-back window, plus up to DECRYPT_INPUT_BYTES of ciphertext being
 * gathered, plus the decryptor's frame.
 */

export const DEFAULT_HOLD_BACK_BYTES = 8 * 1024 * 1024;

export interface SignedObject {
  objectKey: string;
  versionId?: string | undefined;
  keyRef: string;
  /** The ESDK encryption context the object must carry, exactly. */
  context: Readonly<Record<string, string>>;
  plaintext: { sha256: string; bytes: number };
  ciphertext: { sha256: string; bytes: number };
}

/** Why a stream failed its integrity checks (codes for the audit log; never content). */
export type IntegrityProblem =
  | 'ciphertext-length'
  | 'ciphertext-sha256'
  | 'plaintext-length'
  | 'plaintext-sha256'
  | 'header-suite'
  | 'header-context'
  | 'header-key'
  | 'frame-authentication'
  /** The signed manifest (or derivative record) does not verify, or the catalog disagrees with it. */
  | 'signature'
  | 'catalog-mismatch';

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
  constructor(
    readonly problem: IntegrityProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Inclusive byte range of the plaintext. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface VerifiedStreamDeps {
  pool: Queryable;
  store: ObjectStore;
  keyRoot: KeyRoot;
}

/** Ciphertext handed to the decryptor in chunks of this size (see CiphertextMeter). */
export const DECRYPT_INPUT_BYTES = 4 * 1024 * 1024;

/**
 * Hashes and counts the ciphertext as it arrives, and hands it on in chunks of DECRYPT_INPUT_BYTES: S3
 * delivers 64 KiB socket reads, and the Encryption SDK decrypts those 2–3× slower than megabyte chunks
 * (measured: ~200 against ~500 MiB/s on the CI VMs) — one copy per chunk buys that back.
 */
class CiphertextMeter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  private parts: Buffer[] = [];
  private pending = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.parts.push(chunk);
    this.pending += chunk.length;
    if (this.pending < DECRYPT_INPUT_BYTES) {
      callback();
      return;
    }
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    callback(null, out);
  }

  override _flush(callback: TransformCallback): void {
    const out = this.pending === 0 ? undefined : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    callback(null, out);
  }
}

/**
 * Yields the plaintext of `range` (default: all of it) of `object`, verified as described above. Throws
 * IntegrityError for anything that does not match what was signed, and the store's or key root's errors
 * (SealError: CHAP_SEAL_KEY_DESTROYED, CHAP_SEAL_S3_*) when it cannot start. Stopping the iteration early
 * (the client went away) stops reading from S3.
 */
export async function* verifiedPlaintext(
  deps: VerifiedStreamDeps,
  object: SignedObject,
  options: { range?: ByteRange; holdBackBytes?: number } = {},
): AsyncGenerator<Buffer, void, undefined> {
  const holdBackBytes = options.holdBackBytes ?? DEFAULT_HOLD_BACK_BYTES;
  const start = options.range?.start ?? 0;
  const end = options.range?.end ?? object.plaintext.bytes - 1; // inclusive
  const key = await openDataKey(deps.pool, deps.keyRoot, object.keyRef);
  let body: Readable;
  let contentLength: number | undefined;
  try {
    ({ body, contentLength } = await deps.store.getStream(object.objectKey, object.versionId));
  } catch (error) {
    key.dispose();
    throw error;
  }
  const cipherMeter = new CiphertextMeter();
  const decrypt = decryptingStream(key);
  const plainHash = createHash('sha256');
  let headerProblem: IntegrityError | undefined;
  decrypt.once('MessageHeader', (header: MessageHeader) => {
    const context = header.encryptionContext as Record<string, string>;
    const expected = object.context;
    const same = Object.keys(context).length === Object.keys(expected).length && Object.entries(expected).every(([k, v]) => context[k] === v);
    if (header.suiteId !== ESDK_SUITE) headerProblem = new IntegrityError('header-suite', 'the stored object uses another algorithm suite than the committing unsigned 0x0478');
    else if (!same) headerProblem = new IntegrityError('header-context', 'the stored object carries another encryption context (it is another object)');
    else if (!headerKeyRefs(header).includes(object.keyRef)) headerProblem = new IntegrityError('header-key', 'the stored object is not encrypted under the catalogued key');
    if (headerProblem) decrypt.destroy(headerProblem);
  });
  let pipelineError: Error | undefined;
  let pipelineDone = false;
  let signalDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (signalDone = resolve));
  const plaintextSource = pipeline(body, cipherMeter, decrypt, (error) => {
    pipelineError = error ?? undefined;
    pipelineDone = true;
    signalDone();
  }) as unknown as Readable;

  const held: Buffer[] = [];
  let heldBytes = 0;
  let position = 0; // plaintext offset of the next chunk
  let completed = false;
  try {
    if (contentLength !== undefined && contentLength !== object.ciphertext.bytes) {
      throw new IntegrityError('ciphertext-length', `the stored object is ${contentLength} bytes; the signed size is ${object.ciphertext.bytes}`);
    }
    const iterator = (plaintextSource as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      let step: IteratorResult<Buffer>;
      try {
        step = await iterator.next();
      } catch (error) {
        pipelineError ??= error as Error;
        break;
      }
      if (step.done) break;
      const chunk = step.value;
      plainHash.update(chunk);
      const chunkStart = position;
      position += chunk.length;
      if (position <= start || chunkStart > end) continue;
      const piece = chunk.subarray(Math.max(0, start - chunkStart), Math.min(chunk.length, end + 1 - chunkStart));
      held.push(piece);
      heldBytes += piece.length;
      // Release from the front whatever exceeds the hold-back window.
      while (held.length > 0 && heldBytes - held[0]!.length >= holdBackBytes) {
        const out = held.shift()!;
        heldBytes -= out.length;
        yield out;
      }
      if (heldBytes > holdBackBytes) {
        const excess = heldBytes - holdBackBytes;
        const first = held[0]!;
        held[0] = first.subarray(excess);
        heldBytes -= excess;
        yield first.subarray(0, excess);
      }
    }
    if (!pipelineDone && pipelineError === undefined) await finished;
    if (headerProblem) throw headerProblem;
    if (pipelineError) throw classify(pipelineError);
    if (cipherMeter.bytes !== object.ciphertext.bytes) throw new IntegrityError('ciphertext-length', `read ${cipherMeter.bytes} ciphertext bytes; the signed size is ${object.ciphertext.bytes}`);
    if (cipherMeter.hash.digest('hex') !== object.ciphertext.sha256) throw new IntegrityError('ciphertext-sha256', 'the stored object differs from the sealed one (ciphertext SHA-256)');
    if (position !== object.plaintext.bytes) throw new IntegrityError('plaintext-length', `decrypted ${position} bytes; the signed size is ${object.plaintext.bytes}`);
    if (plainHash.digest('hex') !== object.plaintext.sha256) throw new IntegrityError('plaintext-sha256', 'the decrypted bytes differ from the recording (plaintext SHA-256)');
    completed = true;
    // Verified: release the tail.
    for (const out of held.splice(0)) yield out;
  } finally {
    held.length = 0;
    if (!completed && !pipelineDone) {
      body.destroy();
      decrypt.destroy();
    }
    key.dispose();
  }
}

/** Network trouble while reading passes through as is (transient); anything the decryptor rejects is an integrity failure. */
function classify(error: Error): Error {
  if (error instanceof IntegrityError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code) || error.name === 'AbortError' || error.name === 'TimeoutError') return error;
  // The SDK's keyring found no data key it can open in the header: the object is under another key.
  if (/unencryptedDataKey has not been set/.test(error.message)) return new IntegrityError('header-key', 'the stored object is not encrypted under the catalogued key', { cause: error });
  return new IntegrityError('frame-authentication', 'the stored object does not decrypt (a frame failed authentication or the message is malformed)', { cause: error });
}
