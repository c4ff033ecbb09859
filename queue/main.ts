import { createSealServices, loadSealConfig } from './config.js';
import { assertCatalogMigrated } from './catalog.js';
import { ConfigError, type SealError } from './errors.js';
import { createLogger } from './logger.js';
import { installSignalHandlers, startSealWorkers } from './workers.js';

/**
 * The sealing pipeline service: `CHAPERONE_SEAL_CONFIG=/etc/chaperone/seal.json node dist/node/pipeline.mjs`.
 * Refuses to start on invalid configuration (exit 2, the field named) or a database without the catalog
 * migration (exit 2). SIGTERM drains, SIGINT aborts.
 */
const bootLogger = createLogger();
let config;
try {
  config = await loadSealConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    bootLogger.error({ code: error.code, field: error.field }, error.message);
    process.exit(2);
  }
  throw error;
}
const built = await createSealServices(config);
try {
  await assertCatalogMigrated(built.services.pool);
} catch (error) {
  built.services.logger.error({ code: (error as SealError).code }, (error as Error).message);
  await built.close();
  process.exit(2);
}
const workers = startSealWorkers(built.services, built.workerOptions);
built.services.logger.info({ mode: config.mode, prefix: config.redis.prefix, keyRoot: built.services.keyRoot.kind }, 'sealing workers started');
installSignalHandlers(workers, built.services.logger, (code) => {
  void built.close().finally(() => process.exit(code));
});
