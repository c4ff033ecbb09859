import { TokenError, type PlatformRole, type TokenVerifier, type VerifiedToken } from '../keyservice/tokens.js';

/**
 * The authenticated caller of the records service: who they are (the platform token's subject — for call
 * members the same pseudonymous id as their MLS credential and as `participant_id` in the catalog), their
 * platform role, and the room their token is scoped to (patients' and clinicians' tokens always name one).
 *
 * Built only from a token the platform issued and keyservice/tokens.ts verified (HS256 development verifier
 * or the production JWKS / public-key verifier) — never from request fields. The service itself (the
 * retention sweep) acts as a `service` principal, which no token can produce.
 */

export type PrincipalRole = PlatformRole | 'service';

export interface Principal {
  readonly kind: 'user' | 'service';
  /** Token subject (pseudonymous id), or the service's name. */
  readonly subject: string;
  readonly role: PrincipalRole;
  /** The room the token is scoped to; undefined: not scoped (staff roles, the service). */
  readonly room: string | undefined;
}

/** 401: no credential, or one that does not verify. Never carries the token. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  readonly code = 'unauthenticated' as const;
}

export function principalFromToken(token: VerifiedToken): Principal {
  return Object.freeze({ kind: 'user', subject: token.subject, role: token.role, room: token.room });
}

const SERVICE_ID = /^[a-z][a-z0-9-]{0,63}$/;

/** The service acting on its own (e.g. `chaperone-retention`); only code can make one. */
export function servicePrincipal(id: string): Principal {
  if (!SERVICE_ID.test(id)) throw new TypeError('servicePrincipal: id must be a lowercase service name');
  return Object.freeze({ kind: 'service', subject: id, role: 'service', room: undefined });
}

/**
 * Verifies `Authorization: Bearer <platform JWT>`. Rejects with AuthenticationError (the reason is a fixed
 * phrase: "token expired", "token did not verify"...), never echoing the header.
 */
export async function authenticateBearer(verifier: TokenVerifier, authorization: string | undefined): Promise<Principal> {
  if (typeof authorization !== 'string' || authorization.length === 0) throw new AuthenticationError('no bearer token: send Authorization: Bearer <platform token>');
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(authorization);
  if (!match) throw new AuthenticationError('Authorization must be "Bearer <platform token>"');
  try {
    return principalFromToken(await verifier.verify(match[1]!));
  } catch (error) {
    if (error instanceof TokenError) throw new AuthenticationError(error.message);
    throw error;
  }
}

/** The audit log's actor for a principal (identifiers only). */
export function auditActor(principal: Principal): { role: string; id: string } {
  return { role: principal.role, id: principal.subject };
}
