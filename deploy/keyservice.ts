import pino from 'pino';
import { ConfigError, keyServiceConfigFromEnv, startConfiguredKeyService, type KeyServiceConfig } from '../keyservice/index.js';

/**
 * Entry of the key service process (`node dist/node/keyservice.mjs`, via deploy/entrypoint.sh keyservice).
 * Configuration from the environment (keyservice/main.ts); a bad setting stops the process with exit 2 and
 * the variable named. With CHAPERONE_ENV=production the development defaults are refused as well.
 * SIGTERM/SIGINT close the service and exit 0.
 */
const log = pino({ name: 'keyservice', redact: { paths: ['token', '*.token', 'secret', '*.secret', 'authorization', '*.authorization'], censor: '[redacted]' } });

function refuseDevelopmentDefaults(config: KeyServiceConfig): void {
  if (config.tokens.kind === 'dev') {
    throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'the development token issuer is refused when CHAPERONE_ENV=production (set KEYSERVICE_TOKEN_JWKS_URL)');
  }
  if (config.externalSender.kind !== 'kms') {
    throw new ConfigError(
      config.externalSender.kind === 'file' ? 'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE' : 'KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID',
      'production signs with a KMS key (KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID), not a local or in-memory key',
    );
  }
}

async function main(): Promise<void> {
  let config: KeyServiceConfig;
  try {
    config = await keyServiceConfigFromEnv(process.env);
    const environment = process.env.CHAPERONE_ENV ?? 'development';
    if (environment !== 'production' && environment !== 'development') throw new ConfigError('CHAPERONE_ENV', 'must be "production" or "development"');
    if (environment === 'production') refuseDevelopmentDefaults(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`keyservice: refusing to start: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const service = await startConfiguredKeyService(config, log);
  log.info({ url: service.url, recording: config.recording !== undefined }, 'key service ready');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'key service stopping');
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'key service close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`keyservice: refusing to start: ${error.message}\n`);
    process.exit(2);
  }
  log.error({ err: error }, 'key service failed to start');
  process.exit(1);
});
