import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/**
 * Applies the SQL files in db/migrations in name order, each once, each in its own transaction, under an
 * advisory lock so two services starting together do not race. Files are named `NNNN_what.sql`; a file
 * already applied must never change (its SHA-256 is recorded and checked), so history cannot be rewritten
 * silently. Areas own number ranges: 0001–0099 shared, 0100–0199 key service (policy, consent, audit),
 * 0200–0299 pipeline (catalog, keys), 0300–0399 records lifecycle.
 */

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const LOCK_ID = 0x63686170; // "chap"

export class MigrationError extends Error {
  constructor(
    readonly code: 'changed-after-apply' | 'bad-name' | 'failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export interface AppliedMigration {
  name: string;
  sha256: string;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Buffer.from(digest).toString('hex');
}

/** Applies pending migrations; returns the names applied by this call. */
export async function migrate(client: pg.ClientBase, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  for (const file of files) {
    if (!/^\d{4}_[a-z0-9_]+\.sql$/.test(file)) throw new MigrationError('bad-name', `migration ${file}: name must be NNNN_lowercase_words.sql`);
  }
  await client.query('select pg_advisory_lock($1)', [LOCK_ID]);
  try {
    await client.query(`create table if not exists schema_migrations (
      name text primary key, sha256 text not null, applied_at timestamptz not null default now())`);
    const { rows } = await client.query<AppliedMigration>('select name, sha256 from schema_migrations');
    const applied = new Map(rows.map((row) => [row.name, row.sha256]));
    const done: string[] = [];
    for (const file of files) {
      const sql = await readFile(join(dir, file), 'utf8');
      const digest = await sha256Hex(sql);
      const previous = applied.get(file);
      if (previous !== undefined) {
        if (previous !== digest) throw new MigrationError('changed-after-apply', `migration ${file} changed after it was applied: add a new migration instead`);
        continue;
      }
      try {
        await client.query('begin');
        await client.query(sql);
        await client.query('insert into schema_migrations (name, sha256) values ($1, $2)', [file, digest]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw new MigrationError('failed', `migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      done.push(file);
    }
    return done;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_ID]);
  }
}
