/**
 * The records lifecycle's error model (hold, release, delete, retention, export): a stable code, the
 * field at fault when it is bad input, the HTTP status the API maps it to, and a message that says what to
 * do. Codes cross process boundaries (BullMQ failedReason, CLI exit text) as "<CODE>: <message>" and are
 * matched by `code`, never by `instanceof`. Messages carry identifiers only: never a reason text, a
 * participant name, a key or a token.
 */
export type LifecycleErrorCode =
  | 'CHAP_RECORDS_BAD_INPUT'
  | 'CHAP_RECORDS_FORBIDDEN'
  | 'CHAP_RECORDS_UNKNOWN_RECORDING'
  | 'CHAP_RECORDS_UNKNOWN_TRACK'
  | 'CHAP_RECORDS_NOT_SEALED'
  | 'CHAP_RECORDS_ON_HOLD'
  | 'CHAP_RECORDS_NO_ACTIVE_HOLD'
  | 'CHAP_RECORDS_DELETED'
  | 'CHAP_RECORDS_DELETION_IN_PROGRESS'
  | 'CHAP_RECORDS_VERSIONS_UNLISTABLE'
  | 'CHAP_RECORDS_INTEGRITY'
  | 'CHAP_RECORDS_STORE_UNAVAILABLE'
  | 'CHAP_RECORDS_DOWNLOAD_INVALID'
  | 'CHAP_RECORDS_DOWNLOAD_EXPIRED'
  | 'CHAP_RECORDS_DOWNLOAD_USED';

const STATUS: Record<LifecycleErrorCode, number> = {
  CHAP_RECORDS_BAD_INPUT: 400,
  CHAP_RECORDS_FORBIDDEN: 403,
  CHAP_RECORDS_UNKNOWN_RECORDING: 404,
  CHAP_RECORDS_UNKNOWN_TRACK: 404,
  CHAP_RECORDS_NOT_SEALED: 409,
  CHAP_RECORDS_ON_HOLD: 409,
  CHAP_RECORDS_NO_ACTIVE_HOLD: 409,
  CHAP_RECORDS_DELETED: 410,
  CHAP_RECORDS_DELETION_IN_PROGRESS: 409,
  CHAP_RECORDS_VERSIONS_UNLISTABLE: 500,
  CHAP_RECORDS_INTEGRITY: 500,
  CHAP_RECORDS_STORE_UNAVAILABLE: 503,
  CHAP_RECORDS_DOWNLOAD_INVALID: 401,
  CHAP_RECORDS_DOWNLOAD_EXPIRED: 410,
  CHAP_RECORDS_DOWNLOAD_USED: 409,
};

export class LifecycleError extends Error {
  override readonly name = 'LifecycleError';
  readonly statusCode: number;
  constructor(
    readonly code: LifecycleErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.statusCode = STATUS[code];
  }
}

export const badInput = (field: string, message: string) => new LifecycleError('CHAP_RECORDS_BAD_INPUT', `${field}: ${message}`, field);
