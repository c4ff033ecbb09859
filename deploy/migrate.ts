import pg from 'pg';
import { migrate, MigrationError } from '../db/migrate.js';
import { ConfigError, ConfigSource, refuseDevelopmentDataStores } from '../ops/config-source.js';
import { createServiceLogger } from '../ops/logger.js';

/**
 * Entry of the database migration (`node dist/node/migrate.mjs`, via deploy/entrypoint.sh migrate; the
 * chart runs it as a pre-install/pre-upgrade hook Job before any service of the new version starts).
 * Applies db/migrations (copied next to the bundle) under an advisory lock, each file once. Needs a role
 * that may create tables, functions and roles — the migration owner, not the services' login role.
 *
 *   CHAPERONE_DATABASE_URL   postgres:// URL of the migration owner (a mounted Secret)
 *
 * Exit 0: applied or nothing to do; 2: bad configuration (the setting and the fix named); 1: a migration
 * failed (its transaction rolled back; fix and run again).
 */
const log = createServiceLogger('chaperone-migrate');

async function main(): Promise<number> {
  let databaseUrl: string;
  try {
    const source = ConfigSource.load(process.env, { known: ['CHAPERONE_DATABASE_URL'], prefixes: [] });
    databaseUrl = source.requiredUrl('CHAPERONE_DATABASE_URL', ['postgres:', 'postgresql:'], "the migration owner's postgres:// URL");
    if (source.production) refuseDevelopmentDataStores({ postgres: ['CHAPERONE_DATABASE_URL', databaseUrl] });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`migrate: refusing to start: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const applied = await migrate(client);
    log.info({ applied, count: applied.length }, applied.length === 0 ? 'database up to date' : 'migrations applied');
    return 0;
  } catch (error) {
    log.error({ code: error instanceof MigrationError ? error.code : ((error as { code?: string }).code ?? 'failed'), error: error instanceof MigrationError ? error.message : undefined }, 'migration failed');
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

process.exitCode = await main();
