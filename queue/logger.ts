import type { DestinationStream } from 'pino';
import { createServiceLogger, REDACT_PATHS } from '../ops/logger.js';

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

/** The shared redaction list (ops/logger.ts): one list for every service. */
export const REDACTED_PATHS: readonly string[] = REDACT_PATHS;

export function createLogger(options: { level?: string; destination?: DestinationStream; bindings?: Record<string, unknown> } = {}): Logger {
  return createServiceLogger('chaperone-pipeline', options) as unknown as Logger;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
