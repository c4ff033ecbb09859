import { pino, type DestinationStream } from 'pino';

/**
 * The pipeline's logging seam: pino-shaped (context object first, short lowercase message second), one
 * line per lifecycle change, bound to context (recordingId, trackId, segmentNo, jobId, step). What may be
 * logged: identifiers, codes, counts, sizes, durations. Never key material, plaintext, hashes of keys,
 * participant names, or request bodies; pino's `redact` is a backstop for field names that could carry
 * them, not a licence to pass them.
 */
export interface Logger {
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const REDACTED_PATHS: readonly string[] = [
  'plaintext',
  '*.plaintext',
  'key',
  '*.key',
  'dataKey',
  '*.dataKey',
  'wrappedKey',
  '*.wrappedKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'credentials',
  '*.credentials',
  'displayName',
  '*.displayName',
  'name',
  '*.name',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
];

export function createLogger(options: { level?: string; destination?: DestinationStream; bindings?: Record<string, unknown> } = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'chaperone-pipeline', ...(options.bindings ?? {}) },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
  return logger as unknown as Logger;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
