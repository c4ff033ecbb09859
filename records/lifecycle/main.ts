import { createSealServices, loadSealConfig } from '../../queue/config.js';
import { assertCatalogMigrated } from '../../queue/catalog.js';
import { ConfigError } from '../../queue/errors.js';
import { createLogger } from '../../queue/logger.js';
import { systemClock } from './clock.js';
import { startLifecycleWorker } from './retention-scheduler.js';

/**
 * The records lifecycle process: `CHAPERONE_SEAL_CONFIG=/etc/chaperone/seal.json node dist/node/lifecycle.mjs`.
 * Runs the retention clock — the BullMQ job scheduler `chaperone-retention-sweep` and its worker — which
 * deletes expired recordings not on legal hold and resumes any deletion left unfinished. It uses the
 * pipeline's configuration (PostgreSQL, Redis and its prefix, S3, KMS) because it acts on the same
 * catalog and objects; it is a process of its own, not a pipeline worker, so its one-at-a-time sweep does
 * not compete with sealing for worker slots and can be scaled (or paused) separately. Any number of
 * replicas may run: the scheduler makes one job per tick and BullMQ gives it to one worker.
 *
 *   CHAPERONE_RETENTION_SWEEP_EVERY_MS   sweep interval, 1000 … 86400000 (default 3600000, hourly)
 *
 * Refuses to start (exit 2, the setting named) on a bad setting or a database without migration 0310.
 * In production (seal config `mode: "production"`) deletion refuses an S3 endpoint without
 * ListObjectVersions. SIGTERM finishes the sweep in progress; SIGINT stops at once (an interrupted deletion
 * resumes at the next sweep).
 */
const LIFECYCLE_MIGRATION = '0310_records_lifecycle.sql';
const boot = createLogger({ bindings: { service: 'chaperone-lifecycle' } });

function refuse(field: string, message: string): never {
  boot.error({ field }, message);
  process.exit(2);
}

const everyText = process.env.CHAPERONE_RETENTION_SWEEP_EVERY_MS ?? '3600000';
const everyMs = Number(everyText);
if (!/^\d+$/.test(everyText) || everyMs < 1000 || everyMs > 86_400_000) refuse('CHAPERONE_RETENTION_SWEEP_EVERY_MS', 'CHAPERONE_RETENTION_SWEEP_EVERY_MS must be an integer of milliseconds from 1000 to 86400000');
let config;
try {
  config = await loadSealConfig();
} catch (error) {
  if (error instanceof ConfigError) refuse(error.field, error.message);
  throw error;
}
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
const worker = await startLifecycleWorker(
  { pool, purge: { s3: built.s3, bucket: config.s3.bucket, allowUnlistableVersions: config.mode !== 'production' }, clock: systemClock, logger },
  { connection: { url: config.redis.url }, prefix: config.redis.prefix, everyMs },
);
logger.info({ everyMs, prefix: config.redis.prefix, mode: config.mode }, 'retention scheduler started');
let stopping = false;
const stop = (abort: boolean) => {
  if (stopping && !abort) return;
  stopping = true;
  logger.info({ abort }, abort ? 'sigint: stopping now' : 'sigterm: finishing the sweep in progress');
  (abort ? worker.abort() : worker.close())
    .then(() => built.close())
    .then(
      () => process.exit(abort ? 130 : 0),
      () => process.exit(1),
    );
};
process.on('SIGTERM', () => stop(false));
process.on('SIGINT', () => stop(true));
