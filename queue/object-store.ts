import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SealError, fromS3Error } from './errors.js';
import { uploadStream, type StreamUploadResult } from './multipart-upload.js';
import type { Logger } from './logger.js';

/**
 * Ciphertext objects in S3 (@aws-sdk/client-s3): streaming multipart upload into a bounded set of reused
 * part buffers (multipart-upload.ts; partSize × (queueSize + 1), never the whole object), SSE-KMS requested
 * on every upload as a second layer under the client-side encryption, incomplete uploads aborted (when an
 * upload fails, and here before a retry re-uploads a key, for uploads a killed worker left behind), and
 * streaming reads for verification. Objects are immutable once catalogued; with a
 * versioned bucket the catalogue records the version id and reads that version.
 */

export interface ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Multipart part size in bytes (≥ 5 MiB, S3's minimum). */
  partSizeBytes: number;
  /** Parts uploaded concurrently (memory ≈ partSizeBytes × (queueSize + 1)). */
  queueSize: number;
  /** SSE-KMS key requested for every object; undefined: no server-side encryption is requested. */
  sseKmsKeyId: string | undefined;
  /**
   * Refuse an upload whose response does not confirm SSE-KMS (production). A server without SSE (the
   * development s3rver) never confirms it, so development sets this false and records `sse = none`.
   */
  requireSse: boolean;
  /**
   * Sign upload requests with UNSIGNED-PAYLOAD instead of the SHA-256 of every part (default true). The
   * signer would otherwise hash each part on this thread — a third pass over the data. Integrity in transit
   * is TLS's (production refuses plain-HTTP endpoints) plus S3's CRC checksums, and end to end it is ours:
   * the ciphertext SHA-256 is checked by reading the object back before the spool is released.
   */
  unsignedPayload?: boolean;
  logger: Logger;
}

const UNSIGNED_PAYLOAD_COMMANDS: ReadonlySet<string> = new Set(['PutObjectCommand', 'UploadPartCommand']);

export interface PutResult {
  etag: string | undefined;
  versionId: string | undefined;
  /** What S3 says it applied: 'aws:kms', 'AES256', or 'none' when the response names nothing. */
  sse: string;
}

const MIN_PART_BYTES = 5 * 1024 * 1024;

export class ObjectStore {
  readonly bucket: string;
  private warnedSse = false;

  constructor(private readonly options: ObjectStoreOptions) {
    if (!Number.isInteger(options.partSizeBytes) || options.partSizeBytes < MIN_PART_BYTES) throw new TypeError(`s3.partSizeBytes: must be an integer ≥ ${MIN_PART_BYTES} (S3's minimum part size)`);
    if (!Number.isInteger(options.queueSize) || options.queueSize < 1 || options.queueSize > 16) throw new TypeError('s3.queueSize: must be an integer from 1 to 16');
    if (options.requireSse && !options.sseKmsKeyId) throw new TypeError('s3.sseKmsKeyId: required when SSE-KMS confirmation is required');
    this.bucket = options.bucket;
    if (options.unsignedPayload ?? true) {
      options.client.middlewareStack.add(
        (next, context) => async (args) => {
          const request = args.request as { headers?: Record<string, string> };
          if (UNSIGNED_PAYLOAD_COMMANDS.has(context.commandName ?? '') && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
          return next(args);
        },
        { step: 'build', name: 'chaperoneUnsignedPayload', override: true },
      );
    }
  }

  /**
   * Uploads `body` to `key`. If the body stream errors (e.g. a hash check at its end), the upload is
   * aborted and nothing is stored. The caller owns `body` and destroys it on failure.
   */
  async putStream(key: string, body: Readable, metadata: Record<string, string>): Promise<PutResult> {
    const { client, bucket, partSizeBytes, queueSize, sseKmsKeyId, requireSse, logger } = this.options;
    let result: StreamUploadResult;
    try {
      result = await uploadStream({ client, bucket, key, body, partSizeBytes, queueSize, contentType: 'application/octet-stream', metadata, sseKmsKeyId });
    } catch (error) {
      // The upload has been aborted; a body error is ours and passes through as is.
      if (error instanceof SealError) throw error;
      throw fromS3Error(error, `upload of ${key}`);
    }
    const sse = result.serverSideEncryption ?? 'none';
    if (requireSse && sse !== 'aws:kms') {
      await this.delete(key, result.versionId).catch(() => undefined);
      throw new SealError('CHAP_SEAL_S3_SSE_NOT_APPLIED', `S3 stored ${key} without confirming SSE-KMS (got ${sse}); the object was deleted — check the bucket's encryption settings and the endpoint`, true);
    }
    if (sseKmsKeyId && sse !== 'aws:kms' && !this.warnedSse) {
      this.warnedSse = true;
      logger.warn({ objectKey: key, sse }, 'sse-kms requested but not confirmed by this endpoint (logged once)');
    }
    return { etag: result.etag, versionId: result.versionId, sse };
  }

  async getStream(key: string, versionId?: string): Promise<{ body: Readable; contentLength: number | undefined }> {
    try {
      const out = await this.options.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
      if (!out.Body) throw new SealError('CHAP_SEAL_S3_OBJECT_MISSING', `S3 returned no body for ${key}`, true);
      return { body: out.Body as Readable, contentLength: out.ContentLength };
    } catch (error) {
      throw fromS3Error(error, `read of ${key}`);
    }
  }

  /**
   * Aborts multipart uploads of exactly `key` still open (a worker killed mid-upload leaves one). Best
   * effort: returns how many were aborted, or undefined when the endpoint cannot list them (a bucket
   * lifecycle rule AbortIncompleteMultipartUpload is the backstop in production).
   */
  async abortIncompleteUploads(key: string): Promise<number | undefined> {
    const { client, bucket, logger } = this.options;
    try {
      const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      let aborted = 0;
      for (const upload of listed.Uploads ?? []) {
        if (upload.Key !== key || !upload.UploadId) continue;
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
        aborted++;
      }
      if (aborted > 0) logger.info({ objectKey: key, aborted }, 'aborted incomplete multipart uploads');
      return aborted;
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'NotImplemented' || name === 'MethodNotAllowed') {
        logger.warn({ objectKey: key, error: name }, 'endpoint cannot list or abort multipart uploads; relying on the bucket lifecycle rule');
        return undefined;
      }
      throw fromS3Error(error, `cleanup of incomplete uploads of ${key}`);
    }
  }

  async delete(key: string, versionId?: string): Promise<void> {
    try {
      await this.options.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
    } catch (error) {
      throw fromS3Error(error, `delete of ${key}`);
    }
  }
}
