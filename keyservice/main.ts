import { readFile } from 'node:fs/promises';
import { admitEveryone } from './admission-policy.js';
import { LocalEd25519ExternalSender } from './external-sender.js';
import { startKeyService, type KeyService } from './key-service.js';
import { silentLogger, type Logger } from './logger.js';
import { createHs256TokenVerifier, MIN_DEV_SECRET_BYTES } from './tokens.js';

/**
 * Start functions for the key service process (the CLI wiring lives with the deployment code). The
 * configuration is read once, checked, and refused with the offending variable named — never repaired.
 *
 *   KEYSERVICE_HOST                     listen address (default 127.0.0.1)
 *   KEYSERVICE_PORT                     listen port (default 8443; 0 = any free port)
 *   KEYSERVICE_DEV_TOKEN_SECRET_FILE    file holding the HS256 secret (development token verifier; see
 *                                       tokens.ts: NOT a production setting), at least 32 bytes
 *   KEYSERVICE_EXTERNAL_SENDER_KEY_FILE Ed25519 PKCS#8 PEM of the external-sender key; absent = a fresh
 *                                       in-memory key (groups do not survive a restart anyway)
 *   KEYSERVICE_COMMIT_TIMEOUT_MS        default 3000
 */
export interface KeyServiceConfig {
  host: string;
  port: number;
  devTokenSecret: Uint8Array;
  externalSenderKeyPem: string | undefined;
  commitTimeoutMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export async function keyServiceConfigFromEnv(env: Record<string, string | undefined>): Promise<KeyServiceConfig> {
  const host = env.KEYSERVICE_HOST ?? '127.0.0.1';
  const port = parseInteger('KEYSERVICE_PORT', env.KEYSERVICE_PORT ?? '8443', 0, 65535);
  const commitTimeoutMs = parseInteger('KEYSERVICE_COMMIT_TIMEOUT_MS', env.KEYSERVICE_COMMIT_TIMEOUT_MS ?? '3000', 100, 60_000);
  const secretFile = env.KEYSERVICE_DEV_TOKEN_SECRET_FILE;
  if (secretFile === undefined || secretFile === '') throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'is required');
  const devTokenSecret = new Uint8Array(await readFile(secretFile).catch(() => {
    throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'cannot be read');
  }));
  if (devTokenSecret.length < MIN_DEV_SECRET_BYTES) throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', `must hold at least ${MIN_DEV_SECRET_BYTES} bytes`);
  const keyFile = env.KEYSERVICE_EXTERNAL_SENDER_KEY_FILE;
  const externalSenderKeyPem =
    keyFile === undefined || keyFile === ''
      ? undefined
      : await readFile(keyFile, 'utf8').catch(() => {
          throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'cannot be read');
        });
  return Object.freeze({ host, port, devTokenSecret, externalSenderKeyPem, commitTimeoutMs });
}

export async function startConfiguredKeyService(config: KeyServiceConfig, logger: Logger = silentLogger): Promise<KeyService> {
  let externalSender: LocalEd25519ExternalSender;
  try {
    externalSender = config.externalSenderKeyPem === undefined ? LocalEd25519ExternalSender.generate() : LocalEd25519ExternalSender.fromPkcs8Pem(config.externalSenderKeyPem);
  } catch {
    throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'is not an Ed25519 PKCS#8 PEM key');
  }
  if (config.externalSenderKeyPem === undefined) logger.warn({}, 'external sender key generated in memory');
  return startKeyService({
    host: config.host,
    port: config.port,
    tokens: createHs256TokenVerifier({ secret: config.devTokenSecret }),
    externalSender,
    commitTimeoutMs: config.commitTimeoutMs,
    policy: admitEveryone,
    logger,
  });
}

function parseInteger(variable: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value)) throw new ConfigError(variable, 'must be an integer');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(variable, `must be between ${min} and ${max}`);
  return n;
}
