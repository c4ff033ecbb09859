import { randomBytes } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, importJWK, importSPKI, jwtVerify, errors as joseErrors, type JWK, type JWTPayload } from 'jose';

/**
 * Platform tokens: who connects, to which room, in which role. The platform (not this service) issues
 * them; the key service verifies them as the first message of every delivery connection.
 *
 * Production: `createJwtVerifier` checks the platform's asymmetric tokens (EdDSA, ES256, RS256...)
 * against its JWKS URL or a configured public key, via jose.
 * DEVELOPMENT DEFAULT, NOT PRODUCTION: `createHs256TokenVerifier` checks HS256 JWTs with a shared secret
 * configured in this process. Anyone holding that secret can mint tokens for any room and role.
 *
 * Claims: `sub` — the caller's pseudonymous id (for call members it must equal the `id` in their MLS
 * credential); `role` — one of PLATFORM_ROLES; `room` — the room the token is scoped to: required for
 * patients and clinicians, optional for staff roles and the recorder service (which are not tied to one
 * room; a recorder's room comes from the credential the key service issued it); `exp` — required.
 */

export const PLATFORM_ROLES = ['patient', 'clinician', 'operator', 'records-officer', 'auditor', 'recorder'] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];
/** Roles whose tokens must name a room. */
export const ROOM_SCOPED_ROLES: readonly PlatformRole[] = ['patient', 'clinician'];
/** Roles that may join a call's MLS group (the delivery service). */
export const CALL_ROLES: readonly PlatformRole[] = ['patient', 'clinician', 'operator', 'recorder'];

export interface VerifiedToken {
  subject: string;
  role: PlatformRole;
  /** The room the token is scoped to (always set for patients and clinicians). */
  room?: string;
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
      return claimsOf(payload);
    },
  };
}

function claimsOf(payload: JWTPayload): VerifiedToken {
  const { sub, room, role } = payload as { sub?: unknown; room?: unknown; role?: unknown };
  if (typeof sub !== 'string' || !SUBJECT_PATTERN.test(sub)) throw new TokenError('token subject is not a valid id');
  if (typeof role !== 'string' || !(PLATFORM_ROLES as readonly string[]).includes(role)) throw new TokenError('token role is not known');
  if (room !== undefined && (typeof room !== 'string' || !ROOM_ID_PATTERN.test(room))) throw new TokenError('token room is not a valid room id');
  if (room === undefined && ROOM_SCOPED_ROLES.includes(role as PlatformRole)) throw new TokenError(`a ${role} token must name its room`);
  return room === undefined ? { subject: sub, role: role as PlatformRole } : { subject: sub, room, role: role as PlatformRole };
}

export interface JwtVerifierOptions {
  /** The platform's JWKS endpoint (keys fetched and cached by jose). */
  jwksUrl?: string;
  /** Or a configured public key: a JWK, or an SPKI PEM with its algorithm. */
  publicKey?: { jwk: JWK } | { spkiPem: string; algorithm: string };
  /** Accepted algorithms, e.g. ["EdDSA", "ES256"]. Never HS*. */
  algorithms: string[];
  issuer: string;
  audience: string;
  clockToleranceSec?: number;
}

/** The production verifier: the platform's asymmetric JWTs, against its JWKS or a configured key. */
export async function createJwtVerifier(options: JwtVerifierOptions): Promise<TokenVerifier> {
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) throw new TypeError('options.algorithms must list the accepted algorithms');
  if (options.algorithms.some((alg) => alg.startsWith('HS') || alg === 'none')) throw new TypeError('options.algorithms: only asymmetric algorithms');
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('options.issuer is required');
  if (typeof options.audience !== 'string' || options.audience === '') throw new TypeError('options.audience is required');
  if ((options.jwksUrl === undefined) === (options.publicKey === undefined)) throw new TypeError('give exactly one of options.jwksUrl and options.publicKey');
  let key: Parameters<typeof jwtVerify>[1];
  if (options.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(options.jwksUrl);
    } catch {
      throw new TypeError('options.jwksUrl must be a URL');
    }
    key = createRemoteJWKSet(url);
  } else if ('jwk' in options.publicKey!) {
    key = (await importJWK(options.publicKey.jwk, options.publicKey.jwk.alg)) as Exclude<Parameters<typeof jwtVerify>[1], (...args: never[]) => unknown>;
  } else {
    const configured = options.publicKey as { spkiPem: string; algorithm: string };
    key = await importSPKI(configured.spkiPem, configured.algorithm);
  }
  const clockTolerance = options.clockToleranceSec ?? 5;
  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token.length === 0) throw new TokenError('no token');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as never, {
          algorithms: options.algorithms,
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (error) {
        const reason = error instanceof joseErrors.JWTExpired ? 'token expired' : 'token did not verify';
        throw new TokenError(reason, { cause: error });
      }
      return claimsOf(payload);
    },
  };
}

export interface DevTokenClaims {
  sub: string;
  /** Required for patients and clinicians. */
  room?: string;
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
  return new SignJWT(claims.room === undefined ? { role: claims.role } : { room: claims.room, role: claims.role })
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
