import { ConfigError, ConfigSource, OPS_SETTINGS, opsListenerConfig, refuseDevelopmentDataStores, refusedInProduction, type OpsListenerConfig } from '../ops/config-source.js';

export { ConfigError };

/**
 * The recorder process's configuration, from the environment or the JSON file named by
 * CHAPERONE_CONFIG_FILE (ops/config-source.ts), validated once at start: an unknown CHAPERONE_RECORDER_*
 * name or a bad value stops the process with the setting and the fix named. Nothing is silently
 * repaired. CHAPERONE_ENV=production refuses the development token issuer, plaintext Redis and
 * PostgreSQL without TLS required.
 */
export interface RecorderConfig {
  redisUrl: string;
  /** The key service's HTTP base URL (recorder credentials); the MLS endpoint comes with each credential. */
  keyServiceUrl: string;
  /** A file holding the recorder's service token (role recorder), re-read for every call. */
  tokenFile?: string;
  /** The recorder's service identity (token subject) for the development issuer. */
  devRecorderId: string;
  sfuUrl: string;
  spoolDir: string;
  /** Directory of the bundled pages (dist/web). */
  webDir: string;
  maxConcurrentCalls: number;
  /** Development only: sign recorder tokens locally with this HS256 secret (base64url). */
  devTokenSecret?: string;
  production: boolean;
  /** PostgreSQL of the sealing pipeline: finished recordings are handed over there. */
  databaseUrl?: string;
  /** The ops listener: /metrics, /healthz, /readyz. */
  ops: OpsListenerConfig;
}

/** Every setting the recorder reads (CHAPERONE_CONFIG_FILE may hold them too, same names). */
export const RECORDER_SETTINGS = [
  'CHAPERONE_REDIS_URL',
  'CHAPERONE_KEY_SERVICE_URL',
  'CHAPERONE_SFU_URL',
  'CHAPERONE_DATABASE_URL',
  'CHAPERONE_DEV_TOKEN_SECRET',
  'CHAPERONE_RECORDER_MAX_CALLS',
  'CHAPERONE_RECORDER_TOKEN_FILE',
  'CHAPERONE_RECORDER_DEV_ID',
  'CHAPERONE_RECORDER_SPOOL_DIR',
  'CHAPERONE_RECORDER_WEB_DIR',
  ...OPS_SETTINGS,
] as const;

export function recorderConfigFromEnv(env: NodeJS.ProcessEnv): RecorderConfig {
  const source = ConfigSource.load(env, { known: RECORDER_SETTINGS, prefixes: ['CHAPERONE_RECORDER_'] });
  const production = source.production;
  const maxConcurrentCalls = source.integer('CHAPERONE_RECORDER_MAX_CALLS', { default: 4, min: 1, max: 64 });
  const devTokenSecret = source.get('CHAPERONE_DEV_TOKEN_SECRET');
  const tokenFile = source.get('CHAPERONE_RECORDER_TOKEN_FILE');
  if (production && devTokenSecret !== undefined) {
    throw refusedInProduction('CHAPERONE_DEV_TOKEN_SECRET', 'the development token issuer (recorder tokens signed with a local shared secret)', 'unset it and set CHAPERONE_RECORDER_TOKEN_FILE to the mounted recorder service token');
  }
  if (devTokenSecret === undefined && tokenFile === undefined) {
    throw new ConfigError('CHAPERONE_RECORDER_TOKEN_FILE', 'is not set', 'set it to the file holding the recorder service token (or CHAPERONE_DEV_TOKEN_SECRET in development)');
  }
  const redisUrl = source.requiredUrl('CHAPERONE_REDIS_URL', ['redis:', 'rediss:'], 'a rediss:// (or, in development, redis://) URL');
  const databaseUrl = source.url('CHAPERONE_DATABASE_URL', ['postgres:', 'postgresql:']);
  if (production) refuseDevelopmentDataStores({ redis: ['CHAPERONE_REDIS_URL', redisUrl], postgres: ['CHAPERONE_DATABASE_URL', databaseUrl] });
  const keyServiceUrl = source.requiredUrl('CHAPERONE_KEY_SERVICE_URL', ['http:', 'https:'], 'the key service base URL, http(s)://host:port');
  if (new URL(keyServiceUrl).pathname !== '/' || keyServiceUrl.endsWith('/')) {
    throw new ConfigError('CHAPERONE_KEY_SERVICE_URL', 'has a path', 'set the key service base URL, http(s)://host:port with no path');
  }
  return {
    redisUrl,
    keyServiceUrl,
    ...(tokenFile === undefined ? {} : { tokenFile }),
    devRecorderId: source.string('CHAPERONE_RECORDER_DEV_ID', { pattern: /^[A-Za-z0-9._:-]{1,128}$/, what: 'a service identity of letters, digits and ._:-', default: 'recorder-dev' })!,
    sfuUrl: source.requiredUrl('CHAPERONE_SFU_URL', ['ws:', 'wss:'], "the SFU's WebSocket URL, ws:// or wss://"),
    spoolDir: source.string('CHAPERONE_RECORDER_SPOOL_DIR', { pattern: /^\//, what: 'an absolute path', default: '/var/spool/chaperone' })!,
    webDir: source.get('CHAPERONE_RECORDER_WEB_DIR') ?? 'dist/web',
    maxConcurrentCalls,
    ...(devTokenSecret === undefined ? {} : { devTokenSecret }),
    production,
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    ops: opsListenerConfig(source),
  };
}
