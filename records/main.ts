import { ConfigError } from '../ops/config-source.js';
import { createMetricsRegistry } from '../ops/metrics.js';
import { ReadinessError, startOpsServer, type OpsServer } from '../ops/ops-server.js';
import { SealError } from '../queue/errors.js';
import { createLogger } from '../queue/logger.js';
import { recordsConfigFromEnv } from './config.js';
import { instrumentRecords } from './records-metrics.js';
import { startRecordsService } from './service.js';

/**
 * Entry of the records service (`node dist/node/records.mjs`): configuration from the environment
 * (records/config.ts); a refused setting stops the process with exit 2 and the setting named, on stderr.
 * SIGTERM and SIGINT stop accepting requests, let running ones finish, and exit 0. The ops listener
 * (CHAPERONE_OPS_HOST/_PORT): /metrics (records/records-metrics.ts), /healthz, /readyz (PostgreSQL, S3, KMS).
 */
const logger = createLogger({ bindings: { service: 'chaperone-records' } });

function refuse(error: ConfigError): never {
  process.stderr.write(`records: refusing to start: ${error.message}\n`);
  process.exit(2);
}

try {
  const config = recordsConfigFromEnv(process.env);
  const service = await startRecordsService(config, process.env, logger);
  const registry = createMetricsRegistry('records');
  const metrics = instrumentRecords(registry);
  let stopping = false;
  // Draining is not ready (no new work), but alive: running playbacks and exports finish.
  const draining = {
    name: 'accepting',
    async check() {
      if (stopping) throw new ReadinessError('draining');
    },
  };
  let ops: OpsServer;
  try {
    ops = await startOpsServer({ ...config.ops, registry, readiness: [draining, ...service.readiness] });
  } catch (error) {
    await service.close().catch(() => undefined);
    throw new ConfigError('CHAPERONE_OPS_PORT', `cannot be listened on (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'choose a free port');
  }
  logger.info({ url: service.url, ops: ops.url, production: config.production }, 'records service ready');
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'records service stopping');
    service
      .close()
      .then(() => ops.close())
      .then(() => metrics.close())
      .then(
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
