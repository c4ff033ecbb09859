import { HttpApiError, errorBodySchema } from '../ops/http-api-error.js';

/**
 * The key service HTTP API's error model (fastify style: a stable code, an HTTP status, a message that
 * names the field and the fix). Bodies are `{ error: { code, message, field?, reason? } }`. Messages
 * never carry tokens, key material, names or statement text.
 */
export type ApiErrorCode =
  /** 401: no bearer token, or one that does not verify. */
  | 'unauthenticated'
  /** 403: the role may not use this route. */
  | 'forbidden'
  /** 403: the token is scoped to another room. */
  | 'wrong-room'
  /** 400: the request does not match the route's schema or rules (see `field`). */
  | 'invalid-request'
  /** 404 */
  | 'not-found'
  /** 404: the room has no recording policy yet. */
  | 'no-policy'
  /** 409: the caller is not a member of the room's call. */
  | 'not-a-member'
  /** 422: the consent statement was refused (see `reason`). */
  | 'consent-refused'
  /** 409: recording is not authorized in the room right now (policy off, or consent missing). */
  | 'not-authorized'
  /** 409: no record job of that id is waiting for a recorder in this room. */
  | 'no-dispatch'
  /** 503: a dependency (PostgreSQL) is unavailable; nothing changed. */
  | 'unavailable'
  /** 500 */
  | 'internal-error';

export const API_ERROR_STATUS: Record<ApiErrorCode, number> = {
  unauthenticated: 401,
  forbidden: 403,
  'wrong-room': 403,
  'invalid-request': 400,
  'not-found': 404,
  'no-policy': 404,
  'not-a-member': 409,
  'consent-refused': 422,
  'not-authorized': 409,
  'no-dispatch': 409,
  unavailable: 503,
  'internal-error': 500,
};

export class ApiError extends HttpApiError<ApiErrorCode> {
  override readonly name = 'ApiError';
  constructor(code: ApiErrorCode, message: string, options: { field?: string; reason?: string; cause?: unknown } = {}) {
    super(code, API_ERROR_STATUS[code], message, options);
  }
}

/** The JSON schema of every error body (for the OpenAPI document). */
export const ERROR_BODY_SCHEMA = errorBodySchema(Object.keys(API_ERROR_STATUS));
