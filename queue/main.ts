import { createSealServices, loadSealConfig } from './config.js';
import { assertCatalogMigrated } from './catalog.js';
import { ConfigError, type SealError } from './errors.js';
import { createLogger } from './logger.js';
import { installSignalHandlers, startSealWorkers } from './workers.js';
import { instrumentSealWorkers } from './seal-metrics.js';
import { opsListenerFromEnv } from '../ops/config-source.js';
import { createMetricsRegistry } from '../ops/metrics.js';
import { postgresReadiness, redisReadiness, startOpsServer } from '../ops/ops-server.js';

/**
 * The sealing pipeline service: `CHAPERONE_SEAL_CONFIG=/etc/chaperone/seal.json node dist/node/pipeline.mjs`.
 * Refuses to start on invalid configuration (exit 2, the field named) or a database without the catalog
 * migration (exit 2). CHAPERONE_ENV=production refuses a development configuration. SIGTERM drains, SIGINT
 * aborts. CHAPERONE_OPS_HOST/CHAPERONE_OPS_PORT: the ops listener (/metrics, /healthz, /readyz).
 */
const bootLogger = createLogger();
let config;
let opsListener;
try {
  config = await loadSealConfig();
  opsListener = opsListenerFromEnv(process.env);
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
const registry = createMetricsRegistry('pipeline');
const metrics = instrumentSealWorkers(workers, registry, { connection: built.workerOptions.connection, prefix: config.redis.prefix });
const ops = await startOpsServer({
  ...opsListener,
  registry,
  readiness: [postgresReadiness('postgres', built.services.pool), redisReadiness('redis', async () => metrics)],
});
built.services.logger.info({ mode: config.mode, prefix: config.redis.prefix, keyRoot: built.services.keyRoot.kind, ops: ops.url }, 'sealing workers started');
installSignalHandlers(workers, built.services.logger, (code) => {
  void Promise.all([ops.close(), metrics.close()])
    .then(() => built.close())
    .finally(() => process.exit(code));
});
