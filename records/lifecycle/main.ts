import type { Redis } from 'ioredis';
import { createSealServices, loadSealConfig } from '../../queue/config.js';
import { assertCatalogMigrated } from '../../queue/catalog.js';
import { ConfigError } from '../../queue/errors.js';
import { createLogger } from '../../queue/logger.js';
import { createMetricsRegistry } from '../../ops/metrics.js';
import { ReadinessError, redisReadiness, startOpsServer } from '../../ops/ops-server.js';
import { storeReadiness } from '../readiness.js';
import { systemClock } from './clock.js';
import { lifecycleConfigFromEnv, type LifecycleConfig } from './config.js';
import { instrumentLifecycle } from './lifecycle-metrics.js';
import { startLifecycleWorker, type LifecycleWorker } from './retention-scheduler.js';

/**
 * The records lifecycle process: `CHAPERONE_SEAL_CONFIG=/etc/chaperone/seal.json node dist/node/lifecycle.mjs`.
 * Runs the retention clock — the BullMQ job scheduler `chaperone-retention-sweep` and its worker — which
 * deletes expired recordings not on legal hold and resumes any deletion left unfinished. It uses the
 * pipeline's configuration (PostgreSQL, Redis and its prefix, S3, KMS) because it acts on the same
 * catalog and objects; it is a process of its own, not a pipeline worker, so its one-at-a-time sweep does
 * not compete with sealing for worker slots and can be scaled (or paused) separately. Any number of
 * replicas may run: the scheduler makes one job per tick and BullMQ gives it to one worker.
 *
 * Settings: records/lifecycle/config.ts (CHAPERONE_RETENTION_SWEEP_EVERY_MS, the ops listener; unknown
 * names refused; CHAPERONE_CONFIG_FILE). The ops listener serves /metrics (lifecycle-metrics.ts), /healthz
 * and /readyz (PostgreSQL, Redis, S3, KMS).
 *
 * Refuses to start (exit 2, the setting named, on stderr) on a bad setting or a database without
 * migration 0310.
 * In production (seal config `mode: "production"`) deletion refuses an S3 endpoint without
 * ListObjectVersions. SIGTERM finishes the sweep in progress; SIGINT stops at once (an interrupted deletion
 * resumes at the next sweep).
 */
const LIFECYCLE_MIGRATION = '0310_records_lifecycle.sql';
const boot = createLogger({ bindings: { service: 'chaperone-lifecycle' } });

function refuse(field: string, message: string): never {
  boot.error({ field }, message);
  process.stderr.write(`lifecycle: refusing to start: ${message.startsWith(`${field}:`) ? message : `${field}: ${message}`}\n`);
  process.exit(2);
}

let settings: Readonly<LifecycleConfig>;
let config;
try {
  settings = lifecycleConfigFromEnv(process.env);
  config = await loadSealConfig({ ...process.env, CHAPERONE_SEAL_CONFIG: settings.sealConfigPath });
} catch (error) {
  if (error instanceof ConfigError) refuse(error.field, error.message);
  throw error;
}
const { everyMs } = settings;
const built = await createSealServices(config, { logger: boot });
const { pool, logger } = built.services;
try {
  await assertCatalogMigrated(pool);
  const { rows } = await pool.query('select 1 from schema_migrations where name = $1', [LIFECYCLE_MIGRATION]);
  if (rows.length !== 1) throw new Error(`the database lacks migration ${LIFECYCLE_MIGRATION}: run the migrations (db/migrate.ts) first`);
} catch (error) {
  await built.close();
  refuse('database', (error as Error).message);
}
const registry = createMetricsRegistry('lifecycle');
const metrics = instrumentLifecycle(registry);
// The ops listener comes up before the scheduler, whose first Redis call waits for Redis: an unreachable Redis
// then shows as not ready (redis: starting) instead of a process that answers nothing.
const scheduler: { worker?: LifecycleWorker } = {};
let ops;
try {
  ops = await startOpsServer({
    ...settings.ops,
    registry,
    readiness: [
      ...storeReadiness(built, config.s3.bucket),
      redisReadiness('redis', async () => {
        if (scheduler.worker === undefined) throw new ReadinessError('starting');
        return (await scheduler.worker.queue.backend.client) as unknown as Redis;
      }),
    ],
  });
} catch (error) {
  await built.close();
  refuse('CHAPERONE_OPS_PORT', `cannot be listened on (${(error as NodeJS.ErrnoException).code ?? 'error'}); choose a free port`);
}
const started = await startLifecycleWorker(
  { pool, purge: { s3: built.s3, bucket: config.s3.bucket, allowUnlistableVersions: config.mode !== 'production' }, clock: systemClock, logger },
  { connection: { url: config.redis.url }, prefix: config.redis.prefix, everyMs, onSweep: (result) => metrics.sweepDone(result) },
);
scheduler.worker = started;
started.worker.on('failed', (job, error) => metrics.sweepFailed(job, error));
logger.info({ everyMs, prefix: config.redis.prefix, mode: config.mode, ops: ops.url }, 'retention scheduler started');
let stopping = false;
const stop = (abort: boolean) => {
  if (stopping && !abort) return;
  stopping = true;
  logger.info({ abort }, abort ? 'sigint: stopping now' : 'sigterm: finishing the sweep in progress');
  (abort ? started.abort() : started.close())
    .then(() => ops.close())
    .then(() => built.close())
    .then(
      () => process.exit(abort ? 130 : 0),
      () => process.exit(1),
    );
};
process.on('SIGTERM', () => stop(false));
process.on('SIGINT', () => stop(true));
