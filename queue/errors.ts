import { UnrecoverableError } from 'bullmq';

/**
 * The pipeline's error model: every failure has a stable code, says whose fault it is (`permanent`: retrying
 * cannot help — bad input, a changed spool file, a key KMS refuses; transient: a dependency was away), and
 * says what to do. Codes cross process boundaries inside BullMQ's `failedReason` as "<CODE>: <message>", so
 * they are matched by text, never by `instanceof`.
 */
export type SealErrorCode =
  | 'CHAP_SEAL_BAD_REQUEST'
  | 'CHAP_SEAL_RECORDING_CONFLICT'
  | 'CHAP_SEAL_UNKNOWN_RECORDING'
  | 'CHAP_SEAL_CATALOG_STATE'
  /** A job of the recording's flow is held by a worker (re-seal waits for it). */
  | 'CHAP_SEAL_BUSY'
  | 'CHAP_SEAL_SPOOL_MISSING'
  | 'CHAP_SEAL_SPOOL_UNSAFE'
  | 'CHAP_SEAL_HASH_MISMATCH'
  | 'CHAP_SEAL_CIPHERTEXT_MISMATCH'
  | 'CHAP_SEAL_DECRYPT_FAILED'
  | 'CHAP_SEAL_HEADER_MISMATCH'
  | 'CHAP_SEAL_KEY_DESTROYED'
  | 'CHAP_SEAL_KEY_ROOT_MISMATCH'
  | 'CHAP_SEAL_KMS_ACCESS_DENIED'
  | 'CHAP_SEAL_KMS_KEY_DISABLED'
  | 'CHAP_SEAL_KMS_KEY_PENDING_DELETION'
  | 'CHAP_SEAL_KMS_KEY_NOT_FOUND'
  | 'CHAP_SEAL_KMS_REFUSED'
  | 'CHAP_SEAL_KMS_UNAVAILABLE'
  | 'CHAP_SEAL_S3_ACCESS_DENIED'
  | 'CHAP_SEAL_S3_NO_BUCKET'
  | 'CHAP_SEAL_S3_SSE_NOT_APPLIED'
  | 'CHAP_SEAL_S3_UNAVAILABLE'
  | 'CHAP_SEAL_S3_OBJECT_MISSING'
  | 'CHAP_SEAL_DB_UNAVAILABLE'
  | 'CHAP_SEAL_SIGNATURE_INVALID'
  | 'CHAP_SEAL_INTERNAL';

export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(
    readonly code: SealErrorCode,
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.field = options?.field;
  }
  readonly field: string | undefined;
}

/** Bad input at a boundary (enqueue request, configuration): names the field and what it must be. */
export class SealRequestError extends SealError {
  constructor(field: string, message: string) {
    super('CHAP_SEAL_BAD_REQUEST', `${field}: ${message}`, true, { field });
  }
}

/** Configuration refused at start (ops/config-source.ts, shared by every service): names the field and the fix. */
export { ConfigError, type ConfigErrorCode } from '../ops/config-source.js';

const KMS_PERMANENT: Record<string, [SealErrorCode, string]> = {
  AccessDeniedException: ['CHAP_SEAL_KMS_ACCESS_DENIED', 'grant the pipeline role kms:GenerateDataKey, kms:Decrypt (and kms:Sign for manifests) on the key, then retry the recording'],
  DisabledException: ['CHAP_SEAL_KMS_KEY_DISABLED', 'enable the KMS key (EnableKey), then retry the recording'],
  KMSInvalidStateException: ['CHAP_SEAL_KMS_KEY_PENDING_DELETION', 'cancel the key deletion (CancelKeyDeletion) and enable the key, then retry the recording'],
  NotFoundException: ['CHAP_SEAL_KMS_KEY_NOT_FOUND', 'configure an existing key id or ARN (keyRoot.keyId / signer.keyId), then retry the recording'],
  InvalidCiphertextException: ['CHAP_SEAL_KMS_REFUSED', 'the wrapped key does not match its encryption context or KMS key'],
  IncorrectKeyException: ['CHAP_SEAL_KEY_ROOT_MISMATCH', 'the wrapped key was made under another KMS key than the one configured'],
  InvalidKeyUsageException: ['CHAP_SEAL_KMS_REFUSED', 'use a symmetric ENCRYPT_DECRYPT key for data keys and a SIGN_VERIFY key for manifests'],
  KMSInvalidSignatureException: ['CHAP_SEAL_SIGNATURE_INVALID', 'the signature does not verify'],
  ValidationException: ['CHAP_SEAL_KMS_REFUSED', 'the request to KMS was invalid'],
  UnrecognizedClientException: ['CHAP_SEAL_KMS_ACCESS_DENIED', 'check the pipeline credentials'],
  InvalidSignatureException: ['CHAP_SEAL_KMS_ACCESS_DENIED', 'check the pipeline credentials and clock'],
};

/** Maps an @aws-sdk/client-kms error (matched by name) to a SealError. Unknown or 5xx errors are transient. */
export function fromKmsError(error: unknown, doing: string): SealError {
  if (error instanceof SealError) return error;
  const name = (error as { name?: string })?.name ?? 'Error';
  const mapped = KMS_PERMANENT[name];
  if (mapped) return new SealError(mapped[0], `KMS ${doing} failed (${name}): ${mapped[1]}`, true, { cause: error });
  return new SealError('CHAP_SEAL_KMS_UNAVAILABLE', `KMS ${doing} failed (${name}); will retry`, false, { cause: error });
}

const S3_PERMANENT: Record<string, [SealErrorCode, string]> = {
  AccessDenied: ['CHAP_SEAL_S3_ACCESS_DENIED', 'grant the pipeline role s3:PutObject, s3:GetObject and s3:AbortMultipartUpload on the bucket'],
  InvalidAccessKeyId: ['CHAP_SEAL_S3_ACCESS_DENIED', 'check the pipeline S3 credentials'],
  SignatureDoesNotMatch: ['CHAP_SEAL_S3_ACCESS_DENIED', 'check the pipeline S3 credentials'],
  NoSuchBucket: ['CHAP_SEAL_S3_NO_BUCKET', 'create the bucket or fix s3.bucket in the configuration'],
  NoSuchKey: ['CHAP_SEAL_S3_OBJECT_MISSING', 'the stored object is gone'],
  NotFound: ['CHAP_SEAL_S3_OBJECT_MISSING', 'the stored object is gone'],
  KMS: ['CHAP_SEAL_S3_SSE_NOT_APPLIED', 'S3 could not use the SSE-KMS key: grant S3 use of it'],
};

/** Maps an @aws-sdk/client-s3 error to a SealError: auth/config errors are permanent, the rest transient. */
export function fromS3Error(error: unknown, doing: string): SealError {
  if (error instanceof SealError) return error;
  const name = (error as { name?: string; Code?: string })?.name ?? 'Error';
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const mapped = S3_PERMANENT[name] ?? (name.startsWith('KMS.') ? S3_PERMANENT.KMS : undefined);
  if (mapped) return new SealError(mapped[0], `S3 ${doing} failed (${name}): ${mapped[1]}`, true, { cause: error });
  return new SealError('CHAP_SEAL_S3_UNAVAILABLE', `S3 ${doing} failed (${name}${status ? ` ${status}` : ''}); will retry`, false, { cause: error });
}

const PG_TRANSIENT_CLASSES = ['08', '53', '57', '58', '40'];

/** Maps a node-postgres error: connection, resource and serialization classes are transient. */
export function fromDbError(error: unknown, doing: string): SealError {
  if (error instanceof SealError) return error;
  const code = (error as { code?: string })?.code;
  if (code === undefined || PG_TRANSIENT_CLASSES.some((c) => code.startsWith(c)) || /^E[A-Z]+$/.test(code)) {
    return new SealError('CHAP_SEAL_DB_UNAVAILABLE', `PostgreSQL ${doing} failed (${code ?? (error as Error)?.message}); will retry`, false, { cause: error });
  }
  return new SealError('CHAP_SEAL_INTERNAL', `PostgreSQL ${doing} failed (${code}): ${(error as Error).message}`, true, { cause: error });
}

/** Whatever a step threw, as a SealError (unknown errors are transient: a bug gets its retries, then fails). */
export function asSealError(error: unknown): SealError {
  if (error instanceof SealError) return error;
  return new SealError('CHAP_SEAL_INTERNAL', (error as Error)?.message ?? String(error), false, { cause: error });
}

/** The error a BullMQ processor throws: UnrecoverableError for permanent failures, so no retry is spent. */
export function toJobError(error: SealError): Error {
  const message = `${error.code}: ${error.message}`;
  return error.permanent ? new UnrecoverableError(message) : Object.assign(new Error(message), { name: 'SealTransientError' });
}

/** Reads the code back out of a BullMQ failedReason. */
export function codeOfFailedReason(reason: string | undefined): SealErrorCode | undefined {
  const m = /^(CHAP_SEAL_[A-Z0-9_]+):/.exec(reason ?? '');
  return m ? (m[1] as SealErrorCode) : undefined;
}
