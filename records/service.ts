import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHs256TokenVerifier, createJwtVerifier, type TokenVerifier } from '../keyservice/tokens.js';
import { ConfigError } from '../ops/config-source.js';
import { assertCatalogMigrated } from '../queue/catalog.js';
import { createSealServices, loadSealConfig, type BuiltServices } from '../queue/config.js';
import type { Logger } from '../queue/logger.js';
import type { RecordsApiDeps } from './api/context.js';
import type { LifecycleApiOptions } from './api/routes/lifecycle-routes.js';
import { buildRecordsApi } from './api/server.js';
import type { ReadinessCheck } from '../ops/ops-server.js';
import { storeReadiness } from './readiness.js';
import type { RecordsConfig } from './config.js';
import { PlaybackTokens } from './playback-tokens.js';

/**
 * Starts the records service from its configuration: the pipeline's stores and keys (createSealServices
 * over CHAPERONE_SEAL_CONFIG), the platform token verifier, the playback key, the API on its port.
 * Refuses to start (ConfigError, field named) on a database without the catalog and records migrations.
 */
export const RECORDS_MIGRATION = '0300_records_access.sql';

export interface RecordsService {
  url: string;
  app: FastifyInstance;
  /** What /readyz asks (records/readiness.ts): PostgreSQL, the bucket, the KMS key root. */
  readiness: ReadinessCheck[];
  close(): Promise<void>;
}

async function tokenVerifier(config: RecordsConfig): Promise<TokenVerifier> {
  if (config.tokens.kind === 'dev') return createHs256TokenVerifier({ secret: config.tokens.secret, audience: config.tokens.audience });
  const { jwksUrl, publicKeyPem, algorithms, issuer, audience } = config.tokens;
  return createJwtVerifier({ algorithms, issuer, audience, ...(jwksUrl === undefined ? { publicKey: { spkiPem: publicKeyPem!, algorithm: algorithms[0]! } } : { jwksUrl }) });
}

export async function startRecordsService(config: RecordsConfig, env: Record<string, string | undefined>, logger: Logger): Promise<RecordsService> {
  const sealConfig = await loadSealConfig({ ...env, CHAPERONE_SEAL_CONFIG: config.sealConfigPath });
  let built: BuiltServices | undefined;
  try {
    built = await createSealServices(sealConfig, { logger });
    const { services } = built;
    await assertCatalogMigrated(services.pool);
    const { rows } = await services.pool.query('select 1 from schema_migrations where name = $1', [RECORDS_MIGRATION]);
    if (rows.length !== 1) throw new ConfigError('CHAPERONE_SEAL_CONFIG', `names a database without the records migration ${RECORDS_MIGRATION}`, 'run the migrations (db/migrate.ts) before starting the records service');
    if (config.tokens.kind === 'dev') logger.warn({}, 'development token verifier (HS256 shared secret): not for production');
    if (!config.playbackKey) logger.warn({}, 'playback key generated in memory: tokens do not survive a restart and replicas do not share them');
    const workDir = config.workDir ?? join(tmpdir(), 'chaperone-records');
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const deps: RecordsApiDeps & { lifecycle: LifecycleApiOptions } = {
      pool: services.pool,
      store: services.store,
      keyRoot: services.keyRoot,
      signer: services.signer,
      trustedSignerKeys: [await services.signer.publicKeySpki()],
      tokens: await tokenVerifier(config),
      playback: new PlaybackTokens({ db: services.pool, key: config.playbackKey ?? randomBytes(32), tokenTtlMs: config.tokenTtlMs, sessionTtlMs: config.sessionTtlMs }),
      logger,
      holdBackBytes: config.holdBackBytes,
      workDir,
      frameLengthBytes: services.frameLengthBytes,
      secureCookies: config.secureCookies,
      // Deletion on request through the API (records/api/routes/lifecycle-routes.ts); development's s3rver
      // cannot list object versions, production refuses to purge without it (as `chaperone delete`).
      lifecycle: { purge: { s3: built.s3, bucket: sealConfig.s3.bucket, allowUnlistableVersions: sealConfig.mode !== 'production' } },
    };
    const app = await buildRecordsApi(deps);
    const url = await app.listen({ host: config.host, port: config.port });
    const closing = built;
    // Housekeeping: token rows whose token and session both ended a day ago go.
    const purge = setInterval(() => {
      deps.playback.purgeExpired().catch((error: unknown) => logger.warn({ err: (error as Error).name }, 'playback token purge failed'));
    }, 3600_000);
    purge.unref();
    return {
      url,
      app,
      readiness: storeReadiness(built, sealConfig.s3.bucket),
      async close() {
        clearInterval(purge);
        await app.close();
        await closing.close();
      },
    };
  } catch (error) {
    await built?.close().catch(() => undefined);
    throw error;
  }
}
