import { ConfigError } from '../ops/config-source.js';
import { SealError } from '../queue/errors.js';
import { createLogger } from '../queue/logger.js';
import { recordsConfigFromEnv } from './config.js';
import { startRecordsService } from './service.js';

/**
 * Entry of the records service (`node dist/node/records.mjs`): configuration from the environment
 * (records/config.ts); a refused setting stops the process with exit 2 and the setting named, on stderr.
 * SIGTERM and SIGINT stop accepting requests, let running ones finish, and exit 0.
 */
const logger = createLogger({ bindings: { service: 'chaperone-records' } });

function refuse(error: ConfigError): never {
  process.stderr.write(`records: refusing to start: ${error.message}\n`);
  process.exit(2);
}

try {
  const config = recordsConfigFromEnv(process.env);
  const service = await startRecordsService(config, process.env, logger);
  logger.info({ url: service.url, production: config.production }, 'records service ready');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'records service stopping');
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: (error as Error).name }, 'records service close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (error) {
  if (error instanceof ConfigError) refuse(error);
  if (error instanceof SealError && error.code === 'CHAP_SEAL_CATALOG_STATE') {
    process.stderr.write(`records: refusing to start: ${error.message}\n`);
    process.exit(2);
  }
  logger.error({ err: (error as Error).name, code: (error as { code?: string }).code }, 'records service failed to start');
  process.exit(1);
}
