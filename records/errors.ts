import { HttpApiError } from '../ops/http-api-error.js';

/**
 * The records service's error model: a stable code, an HTTP status, and a message that says what to do.
 * Bodies are `{ error: { code, message, field?, reason? } }`. Messages carry identifiers at most — never
 * tokens, session secrets, key material or media.
 */
export type RecordsErrorCode =
  /** 401: no platform token, or one that does not verify. */
  | 'unauthenticated'
  /** 403: the access policy refuses (see `reason`: records/access-policy.ts AccessRefusal). */
  | 'forbidden'
  /** 400: the request does not match the route's schema (see `field`). */
  | 'invalid-request'
  /** 404: no such recording, track, segment or derivative. */
  | 'not-found'
  /** 409: the recording is not sealed (still sealing, failed) or the derivative is not ready. */
  | 'not-playable'
  /** 410: deleted — the recording or track was deleted or its key destroyed (crypto-shredded). */
  | 'gone'
  /** 401: the playback token is malformed or was altered (its signature does not verify). */
  | 'token-invalid'
  /** 401: the playback token has expired. */
  | 'token-expired'
  /** 409: the playback token was already redeemed (a token opens one session, once). */
  | 'token-replayed'
  /** 403: the playback token was issued to another user. */
  | 'token-wrong-user'
  /** 401: no playback session of that id, or the session secret does not match, or it has expired. */
  | 'session-invalid'
  /** 416: the Range cannot be satisfied. */
  | 'range-not-satisfiable'
  /** 502: the stored object does not match the signed manifest; nothing more is produced and it is audited. */
  | 'integrity-failed'
  /** 503: a dependency (PostgreSQL, S3, KMS) is unavailable; nothing changed. */
  | 'unavailable'
  /** 500 */
  | 'internal-error';

export const RECORDS_ERROR_STATUS: Readonly<Record<RecordsErrorCode, number>> = Object.freeze({
  unauthenticated: 401,
  forbidden: 403,
  'invalid-request': 400,
  'not-found': 404,
  'not-playable': 409,
  gone: 410,
  'token-invalid': 401,
  'token-expired': 401,
  'token-replayed': 409,
  'token-wrong-user': 403,
  'session-invalid': 401,
  'range-not-satisfiable': 416,
  'integrity-failed': 502,
  unavailable: 503,
  'internal-error': 500,
});

export class RecordsError extends HttpApiError<RecordsErrorCode> {
  override readonly name = 'RecordsError';
  constructor(code: RecordsErrorCode, message: string, options: { field?: string; reason?: string; cause?: unknown } = {}) {
    super(code, RECORDS_ERROR_STATUS[code], message, options);
  }
}
