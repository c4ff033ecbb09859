import { readFileSync } from 'node:fs';

/**
 * The mechanics every service's configuration shares (one schema per service lives with the service:
 * keyservice/main.ts, bot/recorder-config.ts, queue/config.ts). A setting comes from an environment
 * variable or from the JSON file named by CHAPERONE_CONFIG_FILE (the same names as keys; a variable wins
 * over the file, so Secrets mounted as variables override a ConfigMap file). A name the service does not
 * know is refused, never ignored; a bad value is refused with the setting named and what to set instead —
 * never repaired. CHAPERONE_ENV=production makes each service refuse its development defaults.
 */

export type ConfigErrorCode = 'CHAP_CONFIG_INVALID' | 'CHAP_CONFIG_REFUSED_IN_PRODUCTION';

/** Configuration refused at start: the service does not run with it. Names the setting and the fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    /** The setting: an environment variable, or a dotted path in a configuration file. */
    readonly field: string,
    /** What is wrong, without the value (values can be credentials). */
    readonly problem: string,
    /** What to set instead. */
    readonly fix: string,
    readonly code: ConfigErrorCode = 'CHAP_CONFIG_INVALID',
  ) {
    super(`${field}: ${problem}; ${fix}`);
  }
}

export type Environment = 'development' | 'production';

export const ENVIRONMENT_VARIABLE = 'CHAPERONE_ENV';
export const CONFIG_FILE_VARIABLE = 'CHAPERONE_CONFIG_FILE';

type Env = Record<string, string | undefined>;

/** CHAPERONE_ENV: "development" (the default) or "production"; anything else is refused, not guessed. */
export function environmentOf(value: string | undefined): Environment {
  if (value === undefined || value === '' || value === 'development') return 'development';
  if (value === 'production') return 'production';
  throw new ConfigError(ENVIRONMENT_VARIABLE, 'is neither "production" nor "development"', 'set CHAPERONE_ENV=production or CHAPERONE_ENV=development');
}

/** A development default refused under CHAPERONE_ENV=production. */
export function refusedInProduction(field: string, what: string, fix: string): ConfigError {
  return new ConfigError(field, `${what} is a development default, refused when CHAPERONE_ENV=production`, fix, 'CHAP_CONFIG_REFUSED_IN_PRODUCTION');
}

/** Reads a JSON configuration file into a plain object; the variable naming it is the field of any error. */
export function readJsonConfigFile(variable: string, path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'point it at a readable JSON file');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(variable, 'names a file that is not JSON', 'write the configuration as one JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(variable, 'names a file that is not a JSON object', 'write the configuration as one JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Rejects keys of `value` not in `known`, naming the first one (`path.key`). */
export function rejectUnknownKeys(value: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ConfigError(path === '' ? key : `${path}.${key}`, 'is not a known setting', `remove it (known: ${known.join(', ')})`);
  }
}

export interface FlatConfigSchema {
  /** Every setting the service reads (variable names). */
  known: readonly string[];
  /** Variable prefixes the service owns: an unknown variable under one is a typo, refused. */
  prefixes: readonly string[];
}

/** Typed readers over one service's settings; each refusal names the setting and what to set. */
export class ConfigSource {
  readonly environment: Environment;
  private readonly values: Map<string, string>;

  private constructor(values: Map<string, string>) {
    this.values = values;
    this.environment = environmentOf(values.get(ENVIRONMENT_VARIABLE));
  }

  /**
   * The service's settings from the environment and, when CHAPERONE_CONFIG_FILE is set, that JSON file
   * (flat: setting name → string, number or boolean). Unknown names in either are refused.
   */
  static load(env: Env, schema: FlatConfigSchema): ConfigSource {
    const known = [...new Set([...schema.known, ENVIRONMENT_VARIABLE, CONFIG_FILE_VARIABLE])];
    for (const name of Object.keys(env)) {
      if (schema.prefixes.some((prefix) => name.startsWith(prefix)) && !known.includes(name)) {
        throw new ConfigError(name, 'is not a known setting', `remove it or correct its name (known: ${schema.known.join(', ')})`);
      }
    }
    const values = new Map<string, string>();
    const file = env[CONFIG_FILE_VARIABLE];
    if (file !== undefined && file !== '') {
      const content = readJsonConfigFile(CONFIG_FILE_VARIABLE, file);
      rejectUnknownKeys(content, known.filter((name) => name !== CONFIG_FILE_VARIABLE), '');
      for (const [name, value] of Object.entries(content)) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw new ConfigError(name, 'in the configuration file is not a string, number or boolean', 'give it a plain value');
        }
        values.set(name, String(value));
      }
    }
    for (const name of known) {
      const value = env[name];
      if (value !== undefined && value !== '') values.set(name, value);
    }
    return new ConfigSource(values);
  }

  get production(): boolean {
    return this.environment === 'production';
  }

  /** The raw value, or undefined when unset (an empty variable counts as unset). */
  get(name: string): string | undefined {
    const value = this.values.get(name);
    return value === undefined || value === '' ? undefined : value;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  required(name: string, what: string): string {
    const value = this.get(name);
    if (value === undefined) throw new ConfigError(name, 'is not set', `set it to ${what}`);
    return value;
  }

  /** A string matching `pattern`; `what` describes a valid value. */
  string(name: string, options: { pattern?: RegExp; what: string; default?: string }): string | undefined {
    const value = this.get(name) ?? options.default;
    if (value !== undefined && options.pattern !== undefined && !options.pattern.test(value)) {
      throw new ConfigError(name, `is not ${options.what}`, `set it to ${options.what}`);
    }
    return value;
  }

  integer(name: string, options: { default: number; min: number; max: number }): number {
    const text = this.get(name);
    if (text === undefined) return options.default;
    const value = Number(text);
    if (!/^-?[0-9]+$/.test(text) || value < options.min || value > options.max) {
      throw new ConfigError(name, `is not an integer from ${options.min} to ${options.max}`, `set an integer from ${options.min} to ${options.max} (default ${options.default})`);
    }
    return value;
  }

  /** A URL with one of `protocols` (e.g. ['https:', 'http:']). */
  url(name: string, protocols: readonly string[]): string | undefined {
    const value = this.get(name);
    if (value === undefined) return undefined;
    return checkUrl(name, value, protocols);
  }

  requiredUrl(name: string, protocols: readonly string[], what: string): string {
    return checkUrl(name, this.required(name, what), protocols);
  }

  /** Contents of the file a setting names (secrets are mounted as files). */
  fileContents(name: string): Buffer | undefined {
    const path = this.get(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(name, `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'point it at a readable file (a mounted Secret)');
    }
  }
}

function checkUrl(name: string, value: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'is not a URL', `set a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `is not a ${protocols.map((p) => `${p}//`).join(' or ')} URL`, `set a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
  return value;
}

/** Hosts that only a development stand-in answers on (s3rver, a KMS double, a local Redis). */
export function isLocalEndpoint(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '[::1]' || /^127\./.test(host) || host === '0.0.0.0';
}

/**
 * Production checks shared by every service that talks to Redis and PostgreSQL: Redis over TLS
 * (rediss://; queue data is identifiers only, but it crosses the network), PostgreSQL with TLS required
 * (sslmode=require, verify-ca or verify-full), and neither on a loopback development stand-in.
 */
export function refuseDevelopmentDataStores(stores: { redis?: [field: string, url: string | undefined]; postgres?: [field: string, url: string | undefined] }): void {
  const [redisField, redisUrl] = stores.redis ?? ['', undefined];
  if (redisUrl !== undefined) {
    if (!redisUrl.startsWith('rediss://')) throw refusedInProduction(redisField, 'plaintext Redis (redis://)', 'use TLS: a rediss:// URL (managed Redis with in-transit encryption)');
    if (isLocalEndpoint(redisUrl)) throw refusedInProduction(redisField, 'a loopback Redis', "set the managed Redis endpoint's rediss:// URL");
  }
  const [postgresField, postgresUrl] = stores.postgres ?? ['', undefined];
  if (postgresUrl !== undefined) {
    const sslmode = (() => {
      try {
        return new URL(postgresUrl).searchParams.get('sslmode');
      } catch {
        return null;
      }
    })();
    if (sslmode === null || !['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
      throw refusedInProduction(postgresField, 'a PostgreSQL URL without TLS required', 'add ?sslmode=verify-full (or require) to the URL');
    }
    if (isLocalEndpoint(postgresUrl)) throw refusedInProduction(postgresField, 'a loopback PostgreSQL', 'set the managed PostgreSQL endpoint');
  }
}

/** The ops listener (/metrics, /healthz, /readyz): CHAPERONE_OPS_HOST, CHAPERONE_OPS_PORT. */
export const OPS_SETTINGS = ['CHAPERONE_OPS_HOST', 'CHAPERONE_OPS_PORT'] as const;
export const DEFAULT_OPS_PORT = 9464;

export interface OpsListenerConfig {
  host: string;
  /** 0 = any free port. */
  port: number;
}

export function opsListenerConfig(source: ConfigSource): OpsListenerConfig {
  return {
    host: source.string('CHAPERONE_OPS_HOST', { pattern: /^[A-Za-z0-9.:-]+$/, what: 'a listen address such as 0.0.0.0', default: '127.0.0.1' })!,
    port: source.integer('CHAPERONE_OPS_PORT', { default: DEFAULT_OPS_PORT, min: 0, max: 65535 }),
  };
}

/** The ops listener of a service whose own settings live elsewhere (the pipeline's JSON file). */
export function opsListenerFromEnv(env: Env): OpsListenerConfig {
  const only = Object.fromEntries([ENVIRONMENT_VARIABLE, ...OPS_SETTINGS].map((name) => [name, env[name]]));
  return opsListenerConfig(ConfigSource.load(only, { known: OPS_SETTINGS, prefixes: [] }));
}
