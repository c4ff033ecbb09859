import { ConfigError, keyServiceConfigFromEnv, startConfiguredKeyService, type KeyServiceConfig } from '../keyservice/index.js';
import { createServiceLogger } from '../ops/logger.js';

/**
 * Entry of the key service process (`node dist/node/keyservice.mjs`, via deploy/entrypoint.sh keyservice).
 * Configuration from the environment or CHAPERONE_CONFIG_FILE (keyservice/main.ts, which also refuses the
 * development defaults under CHAPERONE_ENV=production); a bad setting stops the process with exit 2, the
 * setting and the fix named. SIGTERM/SIGINT close the service and exit 0.
 */
const log = createServiceLogger('chaperone-keyservice');

function refuse(error: ConfigError): never {
  process.stderr.write(`keyservice: refusing to start: ${error.message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let config: KeyServiceConfig;
  try {
    config = await keyServiceConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) refuse(error);
    throw error;
  }
  const service = await startConfiguredKeyService(config, log);
  log.info({ url: service.url, ops: service.opsUrl, environment: config.environment, recording: config.recording !== undefined }, 'key service ready');
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
  if (error instanceof ConfigError) refuse(error);
  log.error({ err: error }, 'key service failed to start');
  process.exit(1);
});
