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
  /** The ciphertext, to hand to the uploader. Errors (with the cause) if encryption fails or `check` refuses. */
  output: Readable;
  /** Resolves when all input is encrypted and checked; rejects with the first error. */
  done: Promise<void>;
  plaintext: HashingMeter;
  ciphertext: HashingMeter;
  /** Stops early (the consumer failed): stops reading the source and lets the encryptor finish on its own. */
  abandon(): void;
}

/**
 * Encrypts `source` while hashing both sides, shielded against a hazard of the Encryption SDK 5.0.2:
 * its encrypt stream pipes two inner streams without an error callback, so destroying it before it has
 * finished throws ERR_STREAM_PREMATURE_CLOSE as an uncaught exception (a crashed worker). So nothing here
 * ever destroys it: a read error ends its input early, a consumer failure unpipes and drains its output,
 * and the end-of-stream `check` (e.g. "the plaintext is what was hashed") runs after it has finished,
 * failing `output` so that an upload is aborted instead of completed.
 */
export function encryptShielded(
  source: Readable,
  key: DataKey,
  context: Record<string, string>,
  options: { frameLength: number; check?: (plaintext: HashingMeter) => Error | undefined },
): EncryptionRun {
  const guard = new PassThrough({ highWaterMark: options.frameLength });
  let readError: Error | undefined;
  source.on('error', (error) => {
    readError ??= error;
    source.unpipe(guard);
    guard.end();
  });
  source.pipe(guard);
  const plaintext = new HashingMeter();
  const ciphertext = new HashingMeter(() => readError ?? options.check?.(plaintext));
  const output = new PassThrough();
  const done = pipeline(guard, plaintext, encryptingStream(key, context, { frameLength: options.frameLength }), ciphertext);
  ciphertext.pipe(output);
  done.catch((error: Error) => output.destroy(error));
  return {
    output,
    done,
    plaintext,
    ciphertext,
    abandon() {
      source.unpipe(guard);
      source.destroy();
      guard.end();
      ciphertext.unpipe(output);
      ciphertext.resume();
    },
  };
}
