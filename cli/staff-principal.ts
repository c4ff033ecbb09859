import { readFile } from 'node:fs/promises';
import { createHs256TokenVerifier, createJwtVerifier, MIN_DEV_SECRET_BYTES, type TokenVerifier } from '../keyservice/tokens.js';
import { AuthenticationError, authenticateBearer, type Principal } from '../records/principal.js';
import type { CliIo } from './command.js';

/**
 * Who is running a records-staff command. Not the operating-system user: the person's platform token (the
 * same token the records API accepts), read from `--token-file` or $CHAPERONE_STAFF_TOKEN_FILE and verified
 * like the API verifies it — so the access policy (records/access-policy.ts) decides, and the audit log
 * names the person, not "root".
 *
 * Verifier, from the environment (same names as the key service's, prefixed RECORDS_):
 *   RECORDS_TOKEN_JWKS_URL or RECORDS_TOKEN_PUBLIC_KEY_FILE (+ RECORDS_TOKEN_ALGORITHMS, e.g. "EdDSA"),
 *   RECORDS_TOKEN_ISSUER, RECORDS_TOKEN_AUDIENCE — production;
 *   RECORDS_DEV_TOKEN_SECRET_FILE — development only (HS256 shared secret), refused when CHAPERONE_ENV=production.
 */

export class StaffIdentityError extends Error {
  override readonly name = 'StaffIdentityError';
}

async function verifierFromEnv(env: NodeJS.ProcessEnv): Promise<TokenVerifier> {
  const production = env.CHAPERONE_ENV === 'production';
  if (env.RECORDS_DEV_TOKEN_SECRET_FILE) {
    if (production) throw new StaffIdentityError('RECORDS_DEV_TOKEN_SECRET_FILE is a development verifier and is refused with CHAPERONE_ENV=production: set RECORDS_TOKEN_JWKS_URL (or RECORDS_TOKEN_PUBLIC_KEY_FILE), RECORDS_TOKEN_ISSUER and RECORDS_TOKEN_AUDIENCE');
    const secret = Buffer.from((await readFile(env.RECORDS_DEV_TOKEN_SECRET_FILE, 'utf8').catch(() => '')).trim(), 'utf8');
    if (secret.length < MIN_DEV_SECRET_BYTES) throw new StaffIdentityError(`RECORDS_DEV_TOKEN_SECRET_FILE must name a readable file of at least ${MIN_DEV_SECRET_BYTES} bytes`);
    return createHs256TokenVerifier({ secret });
  }
  const issuer = env.RECORDS_TOKEN_ISSUER;
  const audience = env.RECORDS_TOKEN_AUDIENCE;
  const algorithms = (env.RECORDS_TOKEN_ALGORITHMS ?? 'EdDSA').split(',').map((a) => a.trim()).filter(Boolean);
  if (!issuer || !audience || (!env.RECORDS_TOKEN_JWKS_URL && !env.RECORDS_TOKEN_PUBLIC_KEY_FILE)) {
    throw new StaffIdentityError('no token verifier configured: set RECORDS_TOKEN_JWKS_URL (or RECORDS_TOKEN_PUBLIC_KEY_FILE), RECORDS_TOKEN_ISSUER and RECORDS_TOKEN_AUDIENCE (development: RECORDS_DEV_TOKEN_SECRET_FILE)');
  }
  try {
    if (env.RECORDS_TOKEN_JWKS_URL) return await createJwtVerifier({ jwksUrl: env.RECORDS_TOKEN_JWKS_URL, algorithms, issuer, audience });
    const spkiPem = await readFile(env.RECORDS_TOKEN_PUBLIC_KEY_FILE!, 'utf8');
    return await createJwtVerifier({ publicKey: { spkiPem, algorithm: algorithms[0]! }, algorithms, issuer, audience });
  } catch (error) {
    throw new StaffIdentityError(`the token verifier settings are refused: ${(error as Error).message}`);
  }
}

/** The verified principal, or an exit: a message on stderr saying what to fix. */
export async function staffPrincipal(io: CliIo, command: string, tokenFile: string | undefined): Promise<Principal | undefined> {
  const file = tokenFile ?? io.env.CHAPERONE_STAFF_TOKEN_FILE;
  if (!file) {
    io.stderr.write(`chaperone ${command}: who is asking? give your platform token with --token-file <file> or CHAPERONE_STAFF_TOKEN_FILE\n`);
    return undefined;
  }
  try {
    const token = (await readFile(file, 'utf8').catch(() => {
      throw new StaffIdentityError(`cannot read the token file ${file}`);
    })).trim();
    return await authenticateBearer(await verifierFromEnv(io.env), `Bearer ${token}`);
  } catch (error) {
    if (error instanceof StaffIdentityError || error instanceof AuthenticationError) {
      io.stderr.write(`chaperone ${command}: ${error.message}${error instanceof AuthenticationError ? ' — get a fresh token from the platform' : ''}\n`);
      return undefined;
    }
    throw error;
  }
}
