/**
 * The recorder process's configuration, from the environment, validated once at start: an unknown
 * CHAPERONE_RECORDER_* variable or a bad value stops the process with the variable named and what it
 * must be. Nothing is silently repaired.
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
}

export class RecorderConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'RecorderConfigError';
  }
}

const KNOWN = new Set([
  'CHAPERONE_RECORDER_MAX_CALLS',
  'CHAPERONE_RECORDER_TOKEN_FILE',
  'CHAPERONE_RECORDER_DEV_ID',
  'CHAPERONE_RECORDER_SPOOL_DIR',
  'CHAPERONE_RECORDER_WEB_DIR',
]);

function required(env: NodeJS.ProcessEnv, name: string, pattern: RegExp, what: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new RecorderConfigError(name, `is required (${what})`);
  if (!pattern.test(value)) throw new RecorderConfigError(name, `must be ${what}`);
  return value;
}

export function recorderConfigFromEnv(env: NodeJS.ProcessEnv): RecorderConfig {
  for (const name of Object.keys(env)) {
    if (name.startsWith('CHAPERONE_RECORDER_') && !KNOWN.has(name)) {
      throw new RecorderConfigError(name, `unknown setting; known: ${[...KNOWN].join(', ')}`);
    }
  }
  const production = env.CHAPERONE_ENV === 'production';
  const maxCallsText = env.CHAPERONE_RECORDER_MAX_CALLS ?? '4';
  const maxConcurrentCalls = Number(maxCallsText);
  if (!Number.isInteger(maxConcurrentCalls) || maxConcurrentCalls < 1 || maxConcurrentCalls > 64) {
    throw new RecorderConfigError('CHAPERONE_RECORDER_MAX_CALLS', 'must be an integer from 1 to 64');
  }
  const devTokenSecret = env.CHAPERONE_DEV_TOKEN_SECRET;
  if (production && devTokenSecret) {
    throw new RecorderConfigError('CHAPERONE_DEV_TOKEN_SECRET', 'is a development shortcut and is refused when CHAPERONE_ENV=production');
  }
  if (!devTokenSecret && !env.CHAPERONE_RECORDER_TOKEN_FILE) {
    throw new RecorderConfigError('CHAPERONE_RECORDER_TOKEN_FILE', 'is required: the file holding the recorder service token (or CHAPERONE_DEV_TOKEN_SECRET in development)');
  }
  return {
    redisUrl: required(env, 'CHAPERONE_REDIS_URL', /^rediss?:\/\//, 'a redis:// or rediss:// URL'),
    keyServiceUrl: required(env, 'CHAPERONE_KEY_SERVICE_URL', /^https?:\/\/[^/]+$/, 'the key service base URL, http(s)://host:port with no path'),
    tokenFile: env.CHAPERONE_RECORDER_TOKEN_FILE,
    devRecorderId: env.CHAPERONE_RECORDER_DEV_ID ?? 'recorder-dev',
    sfuUrl: required(env, 'CHAPERONE_SFU_URL', /^wss?:\/\//, "the SFU's WebSocket URL, ws:// or wss://"),
    spoolDir: env.CHAPERONE_RECORDER_SPOOL_DIR ?? '/var/spool/chaperone',
    webDir: env.CHAPERONE_RECORDER_WEB_DIR ?? 'dist/web',
    maxConcurrentCalls,
    devTokenSecret,
    production,
    ...(env.CHAPERONE_DATABASE_URL ? { databaseUrl: env.CHAPERONE_DATABASE_URL } : {}),
  };
}
