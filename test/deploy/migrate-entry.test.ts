import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { freePort } from '../../devstack/free-port.js';
import { startPostgresServer, type PostgresServer } from '../../devstack/postgres-server.js';
import { REPO_ROOT } from './helm.js';

/**
 * The migration entry (deploy/migrate.ts) as the chart's hook Job runs it: the bundle with the migrations
 * next to it (as scripts/build.mjs lays out dist/node), against a real PostgreSQL. Applies everything once,
 * is a no-op the second time, and refuses bad settings with exit 2.
 */
let dir: string;
let bundle: string;
let postgres: PostgresServer;

beforeAll(async () => {
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, '.tmp/migrate-entry-'));
  bundle = join(dir, 'migrate.mjs');
  cpSync(join(REPO_ROOT, 'db/migrations'), join(dir, 'migrations'), { recursive: true });
  await build({ absWorkingDir: REPO_ROOT, entryPoints: ['deploy/migrate.ts'], bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', outfile: bundle, logLevel: 'silent' });
  postgres = await startPostgresServer({ port: await freePort() });
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('migration entry (deploy/migrate.ts)', () => {
  test('applies every migration once, then finds the database up to date', async () => {
    const first = await run({ CHAPERONE_DATABASE_URL: postgres.url });
    expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: '' });
    const applied = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { msg: string; applied: string[]; service: string };
    expect(applied).toMatchObject({ msg: 'migrations applied', service: 'chaperone-migrate' });
    expect(applied.applied).toContain('0200_recording_catalog.sql');
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from schema_migrations');
      expect(rows[0]!.n).toBe(applied.applied.length);
    } finally {
      await client.end();
    }
    const second = await run({ CHAPERONE_DATABASE_URL: postgres.url });
    expect(second.status).toBe(0);
    expect(JSON.parse(second.stdout.trim()) as { msg: string; count: number }).toMatchObject({ msg: 'database up to date', count: 0 });
  });

  test('refuses a missing or bad URL, and in production a URL without TLS required (exit 2, the fix named)', async () => {
    expect(await run({})).toMatchObject({ status: 2, stderr: "migrate: refusing to start: CHAPERONE_DATABASE_URL: is not set; set it to the migration owner's postgres:// URL\n" });
    expect(await run({ CHAPERONE_DATABASE_URL: 'mysql://db/x' })).toMatchObject({ status: 2 });
    const production = await run({ CHAPERONE_ENV: 'production', CHAPERONE_DATABASE_URL: postgres.url });
    expect(production.status).toBe(2);
    expect(production.stderr).toMatch(/CHAPERONE_DATABASE_URL: .*refused when CHAPERONE_ENV=production; add \?sslmode=verify-full/);
  });

  test('an unreachable database fails with exit 1 and an error code, never the URL', async () => {
    const result = await run({ CHAPERONE_DATABASE_URL: `postgres://owner:hunter2@127.0.0.1:${await freePort()}/chaperone` });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/"code":"ECONNREFUSED"/);
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });
});
