import { isAbsolute } from 'node:path';
import { ConfigError, ConfigSource, isLocalEndpoint, OPS_SETTINGS, opsListenerConfig, refusedInProduction, type OpsListenerConfig } from '../ops/config-source.js';
import { MIN_DEV_SECRET_BYTES } from '../keyservice/tokens.js';
import { MAX_TOKEN_TTL_MS } from './playback-tokens.js';

/**
 * The records service's configuration (ops/config-source.ts: environment variables or the JSON file
 * named by CHAPERONE_CONFIG_FILE; an unknown CHAPERONE_RECORDS_* name is refused by name; a bad value is
 * refused with the setting named and the fix; CHAPERONE_ENV=production refuses the development defaults).
 *
 *   CHAPERONE_SEAL_CONFIG                    the pipeline's JSON configuration: the records service reads the
 *                                            same catalog (database), bucket (s3), key root and manifest
 *                                            signer (kms, keyRoot, signer) — queue/config.ts, with its own
 *                                            production refusals
 *   CHAPERONE_RECORDS_HOST / _PORT           listen address (default 127.0.0.1:8444)
 *   CHAPERONE_OPS_HOST / _PORT               ops listener: /metrics, /healthz, /readyz (default 127.0.0.1:9464)
 * Platform tokens (audience default "chaperone-records", so key-service tokens do not open records):
 *   CHAPERONE_RECORDS_TOKEN_JWKS_URL (https and not loopback in production) or
 *   CHAPERONE_RECORDS_TOKEN_PUBLIC_KEY_FILE, with
 *   CHAPERONE_RECORDS_TOKEN_ALGORITHMS, _ISSUER, _AUDIENCE                      — production
 *   CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE  HS256 shared secret (≥ 32 bytes)  — development only
 * Playback:
 *   CHAPERONE_RECORDS_PLAYBACK_KEY_FILE      HMAC key of playback tokens (≥ 32 bytes; required in production,
 *                                            else a random in-memory key: tokens die with the process)
 *   CHAPERONE_RECORDS_TOKEN_TTL_SEC          default 120, at most 300
 *   CHAPERONE_RECORDS_SESSION_TTL_SEC        default 1800
 *   CHAPERONE_RECORDS_HOLD_BACK_MIB          bytes held until verified, default 8
 *   CHAPERONE_RECORDS_INSECURE_COOKIES       "true" drops the cookie's Secure flag (plain-HTTP development only)
 * Derivatives:
 *   CHAPERONE_RECORDS_WORK_DIR               private directory for render plaintext (tmpfs or encrypted
 *                                            storage); required in production
 */

export interface RecordsConfig {
  production: boolean;
  sealConfigPath: string;
  host: string;
  port: number;
  tokens:
    | { kind: 'dev'; secret: Uint8Array; audience: string }
    | { kind: 'jwt'; jwksUrl?: string; publicKeyPem?: string; algorithms: string[]; issuer: string; audience: string };
  playbackKey: Uint8Array | undefined;
  tokenTtlMs: number;
  sessionTtlMs: number;
  holdBackBytes: number;
  secureCookies: boolean;
  workDir: string | undefined;
  ops: OpsListenerConfig;
}

export const RECORDS_SETTINGS = [
  'CHAPERONE_SEAL_CONFIG',
  'CHAPERONE_RECORDS_HOST',
  'CHAPERONE_RECORDS_PORT',
  'CHAPERONE_RECORDS_TOKEN_JWKS_URL',
  'CHAPERONE_RECORDS_TOKEN_PUBLIC_KEY_FILE',
  'CHAPERONE_RECORDS_TOKEN_ALGORITHMS',
  'CHAPERONE_RECORDS_TOKEN_ISSUER',
  'CHAPERONE_RECORDS_TOKEN_AUDIENCE',
  'CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE',
  'CHAPERONE_RECORDS_PLAYBACK_KEY_FILE',
  'CHAPERONE_RECORDS_TOKEN_TTL_SEC',
  'CHAPERONE_RECORDS_SESSION_TTL_SEC',
  'CHAPERONE_RECORDS_HOLD_BACK_MIB',
  'CHAPERONE_RECORDS_INSECURE_COOKIES',
  'CHAPERONE_RECORDS_WORK_DIR',
  ...OPS_SETTINGS,
] as const;

export const DEFAULT_RECORDS_AUDIENCE = 'chaperone-records';

export function recordsConfigFromEnv(env: Record<string, string | undefined>): Readonly<RecordsConfig> {
  const source = ConfigSource.load(env, { known: RECORDS_SETTINGS, prefixes: ['CHAPERONE_RECORDS_'] });
  const production = source.production;
  const sealConfigPath = source.required('CHAPERONE_SEAL_CONFIG', "the pipeline's JSON configuration file (catalog, bucket, key root, signer)");
  const host = source.string('CHAPERONE_RECORDS_HOST', { pattern: /^[A-Za-z0-9.:-]+$/, what: 'a listen address such as 0.0.0.0', default: '127.0.0.1' })!;
  const port = source.integer('CHAPERONE_RECORDS_PORT', { default: 8444, min: 0, max: 65535 });
  const audience = source.string('CHAPERONE_RECORDS_TOKEN_AUDIENCE', { pattern: /^[!-~]{1,200}$/, what: 'a token audience', default: DEFAULT_RECORDS_AUDIENCE })!;

  const jwks = source.url('CHAPERONE_RECORDS_TOKEN_JWKS_URL', ['https:', 'http:']);
  if (jwks !== undefined && production && !jwks.startsWith('https:')) {
    throw refusedInProduction('CHAPERONE_RECORDS_TOKEN_JWKS_URL', 'a plain-http JWKS URL (keys could be swapped in transit)', "set the platform's https:// JWKS URL");
  }
  if (jwks !== undefined && production && isLocalEndpoint(jwks)) {
    throw refusedInProduction('CHAPERONE_RECORDS_TOKEN_JWKS_URL', 'a loopback JWKS URL (a development issuer)', "set the platform's JWKS URL");
  }
  const publicKey = source.fileContents('CHAPERONE_RECORDS_TOKEN_PUBLIC_KEY_FILE');
  const devSecret = source.fileContents('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE');
  let tokens: RecordsConfig['tokens'];
  if (jwks !== undefined || publicKey !== undefined) {
    if (jwks !== undefined && publicKey !== undefined) throw new ConfigError('CHAPERONE_RECORDS_TOKEN_PUBLIC_KEY_FILE', 'is set together with CHAPERONE_RECORDS_TOKEN_JWKS_URL', 'set only one of them');
    if (devSecret !== undefined) throw new ConfigError('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE', 'is set together with production token verification', 'remove it');
    const algorithms = (source.get('CHAPERONE_RECORDS_TOKEN_ALGORITHMS') ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
    if (algorithms.length === 0 || algorithms.some((a) => !/^(EdDSA|ES256|ES384|ES512|RS256|RS384|RS512|PS256|PS384|PS512)$/.test(a))) {
      throw new ConfigError('CHAPERONE_RECORDS_TOKEN_ALGORITHMS', 'is missing or lists an algorithm that is not an asymmetric JWS algorithm', 'set e.g. "EdDSA" or "ES256,EdDSA"');
    }
    tokens = {
      kind: 'jwt',
      algorithms,
      issuer: source.required('CHAPERONE_RECORDS_TOKEN_ISSUER', "the platform's token issuer"),
      audience,
      ...(jwks === undefined ? {} : { jwksUrl: jwks }),
      ...(publicKey === undefined ? {} : { publicKeyPem: publicKey.toString('utf8') }),
    };
  } else {
    if (devSecret === undefined) {
      throw new ConfigError('CHAPERONE_RECORDS_TOKEN_JWKS_URL', 'is not set (nor a public key file)', "set the platform's JWKS URL, or CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE for development");
    }
    if (production) throw refusedInProduction('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE', 'the HS256 development token issuer', 'set CHAPERONE_RECORDS_TOKEN_JWKS_URL');
    if (devSecret.length < MIN_DEV_SECRET_BYTES) throw new ConfigError('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE', `holds fewer than ${MIN_DEV_SECRET_BYTES} bytes`, `write at least ${MIN_DEV_SECRET_BYTES} random bytes`);
    tokens = { kind: 'dev', secret: new Uint8Array(devSecret), audience };
  }

  const playbackKey = source.fileContents('CHAPERONE_RECORDS_PLAYBACK_KEY_FILE');
  if (playbackKey !== undefined && playbackKey.length < 32) throw new ConfigError('CHAPERONE_RECORDS_PLAYBACK_KEY_FILE', 'holds fewer than 32 bytes', 'write 32 or more random bytes (a mounted Secret)');
  if (playbackKey === undefined && production) {
    throw refusedInProduction('CHAPERONE_RECORDS_PLAYBACK_KEY_FILE', 'a random in-memory playback key', 'mount a Secret of 32+ random bytes and name it here (shared by every replica)');
  }
  const insecure = source.string('CHAPERONE_RECORDS_INSECURE_COOKIES', { pattern: /^(true|false)$/, what: 'true or false', default: 'false' }) === 'true';
  if (insecure && production) throw refusedInProduction('CHAPERONE_RECORDS_INSECURE_COOKIES', 'playback cookies without Secure', 'remove it: production serves playback over TLS');
  const workDir = source.get('CHAPERONE_RECORDS_WORK_DIR');
  if (workDir !== undefined && !isAbsolute(workDir)) throw new ConfigError('CHAPERONE_RECORDS_WORK_DIR', 'is not an absolute path', 'set an absolute path on tmpfs or encrypted storage');
  if (workDir === undefined && production) {
    throw refusedInProduction('CHAPERONE_RECORDS_WORK_DIR', 'the system temp directory for derivative plaintext', 'set a private tmpfs or encrypted directory');
  }
  return Object.freeze({
    production,
    sealConfigPath,
    host,
    port,
    tokens,
    playbackKey: playbackKey === undefined ? undefined : new Uint8Array(playbackKey),
    tokenTtlMs: source.integer('CHAPERONE_RECORDS_TOKEN_TTL_SEC', { default: 120, min: 1, max: MAX_TOKEN_TTL_MS / 1000 }) * 1000,
    sessionTtlMs: source.integer('CHAPERONE_RECORDS_SESSION_TTL_SEC', { default: 1800, min: 1, max: 43_200 }) * 1000,
    holdBackBytes: source.integer('CHAPERONE_RECORDS_HOLD_BACK_MIB', { default: 8, min: 1, max: 256 }) * 1024 * 1024,
    secureCookies: !insecure,
    workDir,
    ops: opsListenerConfig(source),
  });
}
