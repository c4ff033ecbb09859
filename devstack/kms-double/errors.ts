/**
 * Errors the KMS double returns, with the names real AWS KMS uses on the wire (`__type` of an
 * `application/x-amz-json-1.1` error body), so `@aws-sdk/client-kms` raises the same typed exceptions
 * (`DisabledException`, `KMSInvalidStateException`, ...) a caller meets in production.
 */
export type KmsErrorType =
  | 'AccessDeniedException'
  | 'DisabledException'
  | 'DryRunOperationException'
  | 'IncorrectKeyException'
  | 'InvalidCiphertextException'
  | 'InvalidKeyUsageException'
  | 'InvalidSignatureException'
  | 'IncompleteSignature'
  | 'KMSInternalException'
  | 'KMSInvalidSignatureException'
  | 'KMSInvalidStateException'
  | 'MissingAuthenticationTokenException'
  | 'NotFoundException'
  | 'AlreadyExistsException'
  | 'SerializationException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'UnrecognizedClientException'
  | 'UnsupportedOperationException'
  | 'ValidationException';

const SERVER_FAULTS: ReadonlySet<KmsErrorType> = new Set(['KMSInternalException']);

export class KmsError extends Error {
  readonly status: number;
  constructor(
    readonly type: KmsErrorType,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.status = SERVER_FAULTS.has(type) ? 500 : 400;
  }
}
