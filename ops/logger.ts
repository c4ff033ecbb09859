import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * The services' JSON logger (pino): context object first, short lowercase message second; one line per
 * lifecycle change, bound to identifiers. What may be logged: identifiers, codes, counts, sizes,
 * durations. `redact` is the backstop for field names that could carry a secret, key material or PHI
 * (I5) — at the top level and one level down — not a licence to pass them.
 */
export const REDACTED_FIELDS: readonly string[] = [
  // credentials and tokens
  'token',
  'authorization',
  'password',
  'secret',
  'callSecret',
  'credentials',
  'secretAccessKey',
  'sessionToken',
  // URLs that may embed a password (redis://:pw@…, postgres://user:pw@…)
  'redisUrl',
  'databaseUrl',
  'connectionString',
  // key material
  'key',
  'dataKey',
  'wrappedKey',
  'privateKey',
  'epochSecret',
  'secretKey',
  // media and people
  'plaintext',
  'payload',
  'displayName',
  'name',
  'statement',
];

export const REDACT_PATHS: readonly string[] = REDACTED_FIELDS.flatMap((field) => [field, `*.${field}`]);

export type ServiceLogger = PinoLogger;

export function createServiceLogger(service: string, options: { level?: string; destination?: DestinationStream; bindings?: Record<string, unknown> } = {}): ServiceLogger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service, ...(options.bindings ?? {}) },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
