import pg from 'pg';
import { mkdtemp, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, MIGRATIONS_DIR } from './migrate.js';
import { startPostgresServer, type PostgresServer } from '../devstack/postgres-server.js';
import { freePort } from '../devstack/free-port.js';

describe('schema migrations', () => {
  let server: PostgresServer;
  let client: pg.Client;
  beforeAll(async () => {
    server = await startPostgresServer({ port: await freePort() });
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
  }, 60_000);
  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  test('applies every migration once; a second run applies nothing', async () => {
    const first = await migrate(client);
    expect(first.length).toBeGreaterThan(0);
    expect(await migrate(client)).toEqual([]);
  });

  test('refuses a migration that changed after it was applied, and a failing one leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await writeFile(join(dir, '0001_extensions.sql'), '-- edited\n');
    await expect(migrate(client, dir)).rejects.toMatchObject({ code: 'changed-after-apply' });
    const dir2 = await mkdtemp(join(tmpdir(), 'migrations-'));
    await cp(MIGRATIONS_DIR, dir2, { recursive: true });
    await writeFile(join(dir2, '9999_broken.sql'), 'create table half_done (id int); select 1/0;');
    await expect(migrate(client, dir2)).rejects.toMatchObject({ code: 'failed' });
    const { rows } = await client.query("select to_regclass('half_done') as t");
    expect(rows[0].t).toBeNull();
  });
});
