import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  type MessageHeader,
} from '@aws-crypto/client-node';
import { SealError } from './errors.js';
import type { DataKey } from './keys/data-keys.js';

/**
 * Object encryption with the AWS Encryption SDK (@aws-crypto/client-node 5.0.2; earlier decrypt releases
 * truncate plaintext with frames ≥ 16 KiB): the committing, unsigned suite 0x0478
 * (AES_256_GCM_HKDF_SHA512_COMMIT_KEY), framed, streaming both ways, so no file is ever whole in memory.
 * Each object gets a fresh data key wrapped under its track key by a raw AES keyring named after the key
 * (`chaperone/<keyRef>`); the encryption context (identifiers only) is authenticated with every frame.
 * Decryption uses decryptUnsignedMessageStream, which refuses signed suites instead of releasing plaintext
 * before a trailing signature is checked.
 */

export const ESDK_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
export const ESDK_SUITE_NAME = 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY (0x0478)';
/** 1 MiB frames: several times faster than the 4 KiB default; plaintext is read in chunks of this size. */
export const DEFAULT_FRAME_LENGTH = 1024 * 1024;
export const KEYRING_NAMESPACE = 'chaperone';

const { encryptStream, decryptUnsignedMessageStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

function keyring(key: DataKey): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: KEYRING_NAMESPACE,
    keyName: key.keyRef,
    unencryptedMasterKey: key.plaintext,
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}

/** Encryption context of a stored object: identifiers only (it is stored in clear in the object header). */
export function segmentObjectContext(recordingId: string, trackId: string, segmentNo: number): Record<string, string> {
  return { 'chaperone-object': 'segment', 'chaperone-recording': recordingId, 'chaperone-track': trackId, 'chaperone-segment': String(segmentNo) };
}

export function manifestObjectContext(recordingId: string): Record<string, string> {
  return { 'chaperone-object': 'manifest', 'chaperone-recording': recordingId };
}

export function encryptingStream(key: DataKey, context: Record<string, string>, options: { frameLength?: number; plaintextLength?: number } = {}): Duplex {
  return encryptStream(keyring(key), {
    suiteId: ESDK_SUITE,
    encryptionContext: context,
    frameLength: options.frameLength ?? DEFAULT_FRAME_LENGTH,
    ...(options.plaintextLength !== undefined ? { plaintextLength: options.plaintextLength } : {}),
  });
}

/**
 * A decrypting stream for one object under `key` (the catalog names the key ref; an object whose header
 * names another key fails to open). It emits 'MessageHeader' before any plaintext, so the caller can check
 * the suite and the encryption context and destroy the stream on a mismatch.
 */
export function decryptingStream(key: DataKey): Duplex {
  return decryptUnsignedMessageStream(keyring(key));
}

/** Reads the ESDK message header's key name (the `keyRef`) from the first bytes of an object. */
export function headerKeyRefs(header: MessageHeader): string[] {
  return header.encryptedDataKeys.filter((edk) => edk.providerId === KEYRING_NAMESPACE).map((edk) => edk.providerInfo.split('\u0000')[0]!);
}

/** A pass-through that counts and hashes (SHA-256) what flows through it. */
export class HashingMeter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private digestHex: string | undefined;

  constructor(private readonly onEnd?: (meter: HashingMeter) => Error | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digestHex = this.hash.digest('hex');
    // A check at the end of the stream errors the whole pipeline, so e.g. a multipart upload is aborted
    // instead of completed when the bytes turn out not to be the ones that were hashed.
    callback(this.onEnd?.(this) ?? null);
  }

  get sha256(): string {
    if (this.digestHex === undefined) throw new Error('HashingMeter: stream has not ended');
    return this.digestHex;
  }
}

export interface EncryptionRun {
  /** The ciphertext, to hand to the uploader. Errors (with the cause) if encryption fails or a check refuses. */
  output: Readable;
  /** Resolves when all input is encrypted and checked; rejects with the first error. */
  done: Promise<void>;
  /** Plaintext bytes read. */
  readonly plaintextBytes: number;
  ciphertext: HashingMeter;
  /** Stops early (the consumer failed): stops reading the source and lets the encryptor finish on its own. */
  abandon(): void;
}

/**
 * Counts what passes; past `expectedBytes` it passes nothing more and records why. It never errors the
 * stream itself (see encryptShielded): the finding is reported after the encryptor has finished.
 */
class LengthGuard extends Transform {
  bytes = 0;
  problem: string | undefined;

  constructor(private readonly expectedBytes: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedBytes !== undefined && this.bytes > this.expectedBytes) {
      this.problem ??= `more than the ${this.expectedBytes} bytes hashed`;
      callback();
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedBytes !== undefined && this.bytes < this.expectedBytes) this.problem ??= `${this.bytes} bytes, fewer than the ${this.expectedBytes} hashed`;
    callback();
  }
}

/**
 * Encrypts `source`, hashing the ciphertext, shielded against a hazard of the Encryption SDK 5.0.2: its
 * encrypt stream pipes two inner streams without an error callback, so destroying it before it has
 * finished, or an error inside it, throws ERR_STREAM_PREMATURE_CLOSE as an uncaught exception (a crashed
 * worker). So nothing here ever destroys or errors it: a read error ends its input early, more input than
 * `expectedBytes` is held back, a consumer failure unpipes and drains its output; every such finding is
 * raised after the encryptor has finished, by failing `output`, so an upload is aborted, not completed.
 *
 * The plaintext's SHA-256 is not recomputed here: the hash step recorded it, and the verify step decrypts
 * the stored object and compares (a change of content of the same length is caught there).
 */
export function encryptShielded(
  source: Readable,
  key: DataKey,
  context: Record<string, string>,
  options: { frameLength: number; expectedBytes?: number; describe?: string },
): EncryptionRun {
  const feed = new PassThrough({ highWaterMark: options.frameLength });
  let readError: Error | undefined;
  source.on('error', (error) => {
    readError ??= error;
    source.unpipe(feed);
    feed.end();
  });
  source.pipe(feed);
  const length = new LengthGuard(options.expectedBytes);
  const ciphertext = new HashingMeter(() => {
    if (readError) return readError;
    if (length.problem) {
      return new SealError('CHAP_SEAL_HASH_MISMATCH', `${options.describe ?? 'the input'} changed after it was hashed (${length.problem}); nothing was stored and the spool is kept`, true);
    }
    return undefined;
  });
  const output = new PassThrough();
  const done = pipeline(feed, length, encryptingStream(key, context, { frameLength: options.frameLength }), ciphertext);
  ciphertext.pipe(output);
  done.catch((error: Error) => output.destroy(error));
  return {
    output,
    done,
    get plaintextBytes() {
      return length.bytes;
    },
    ciphertext,
    abandon() {
      source.unpipe(feed);
      source.destroy();
      feed.end();
      ciphertext.unpipe(output);
      ciphertext.resume();
    },
  };
}
