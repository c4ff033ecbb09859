import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

/**
 * Platform tokens: who connects, to which room, in which role. The platform (not this service) issues
 * them; the key service verifies them as the first message of every delivery connection.
 *
 * DEVELOPMENT DEFAULT, NOT PRODUCTION: the embedded verifier below checks HS256 JWTs with a shared
 * secret configured in this process (`createHs256TokenVerifier`). Anyone holding that secret can mint
 * tokens for any room and role. Production verifies the platform's asymmetric tokens (e.g. EdDSA or
 * ES256 against the platform's JWKS) through the same TokenVerifier interface.
 *
 * Claims: `sub` — the participant's pseudonymous id (it must equal the `id` in the MLS credential);
 * `room` — the call's room id; `role` — patient | clinician | operator | recorder; `exp` — required.
 */

export const PLATFORM_ROLES = ['patient', 'clinician', 'operator', 'recorder'] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];

export interface VerifiedToken {
  subject: string;
  room: string;
  role: PlatformRole;
}

export interface TokenVerifier {
  /** Resolves with the verified claims, or rejects with TokenError. */
  verify(token: string): Promise<VerifiedToken>;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'invalid-token' as const;
}

export const DEV_TOKEN_ALGORITHM = 'HS256';
export const DEV_TOKEN_ISSUER = 'chaperone-dev-platform';
export const DEV_TOKEN_AUDIENCE = 'chaperone-keyservice';
export const MIN_DEV_SECRET_BYTES = 32;
/** Subject ids follow the credential's id rule (e2ee/mls/participant-credential.ts). */
const SUBJECT_PATTERN = /^[\x21-\x7e]{1,128}$/;
export const ROOM_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface Hs256VerifierOptions {
  secret: Uint8Array;
  issuer?: string;
  audience?: string;
  clockToleranceSec?: number;
}

/** The embedded development verifier (HS256, shared secret). See the file comment. */
export function createHs256TokenVerifier(options: Hs256VerifierOptions): TokenVerifier {
  if (!(options.secret instanceof Uint8Array) || options.secret.length < MIN_DEV_SECRET_BYTES) {
    throw new TypeError(`secret must be at least ${MIN_DEV_SECRET_BYTES} bytes`);
  }
  const secret = options.secret.slice();
  const issuer = options.issuer ?? DEV_TOKEN_ISSUER;
  const audience = options.audience ?? DEV_TOKEN_AUDIENCE;
  const clockTolerance = options.clockToleranceSec ?? 5;
  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token.length === 0) throw new TokenError('no token');
      let payload;
      try {
        ({ payload } = await jwtVerify(token, secret, {
          algorithms: [DEV_TOKEN_ALGORITHM],
          issuer,
          audience,
          clockTolerance,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (error) {
        const reason = error instanceof joseErrors.JWTExpired ? 'token expired' : 'token did not verify';
        throw new TokenError(reason, { cause: error });
      }
      const { sub, room, role } = payload as { sub?: unknown; room?: unknown; role?: unknown };
      if (typeof sub !== 'string' || !SUBJECT_PATTERN.test(sub)) throw new TokenError('token subject is not a valid id');
      if (typeof room !== 'string' || !ROOM_ID_PATTERN.test(room)) throw new TokenError('token room is not a valid room id');
      if (typeof role !== 'string' || !(PLATFORM_ROLES as readonly string[]).includes(role)) throw new TokenError('token role is not known');
      return { subject: sub, room, role: role as PlatformRole };
    },
  };
}

export interface DevTokenClaims {
  sub: string;
  room: string;
  role: PlatformRole;
  /** Lifetime; default 10 minutes. */
  expiresInSec?: number;
}

/** Mints a development token (HS256) for tests and the demo. Never use in production. */
export async function issueDevToken(
  secret: Uint8Array,
  claims: DevTokenClaims,
  options: { issuer?: string; audience?: string } = {},
): Promise<string> {
  return new SignJWT({ room: claims.room, role: claims.role })
    .setProtectedHeader({ alg: DEV_TOKEN_ALGORITHM, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(options.issuer ?? DEV_TOKEN_ISSUER)
    .setAudience(options.audience ?? DEV_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresInSec ?? 600}s`)
    .sign(secret);
}

/** A development token issuer and its matching verifier, sharing one random secret. */
export interface DevTokenAuthority {
  verifier: TokenVerifier;
  issue(claims: DevTokenClaims): Promise<string>;
}

export async function createDevTokenAuthority(options: { secret?: Uint8Array } = {}): Promise<DevTokenAuthority> {
  const secret = options.secret?.slice() ?? new Uint8Array(randomBytes(32));
  return {
    verifier: createHs256TokenVerifier({ secret }),
    issue: (claims) => issueDevToken(secret, claims),
  };
}
