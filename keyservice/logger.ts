/**
 * The service's logging seam: pino-shaped (context object first, short lowercase message second), so a
 * pino logger can be passed as is. Default silent. What may be logged: identifiers (room id, connection
 * id, leaf index, epoch) and codes. Never tokens, key material, display names or MLS bytes (I5).
 */
export interface Logger {
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};
