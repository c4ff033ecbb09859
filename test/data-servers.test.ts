import pg from 'pg';
import { Redis } from 'ioredis';
import { startPostgresServer, type PostgresServer } from '../devstack/postgres-server.js';
import { startRedisServer, type RedisServer } from '../devstack/redis-server.js';
import { freePort } from '../devstack/free-port.js';

describe('throwaway data servers for tests', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgresServer({ port: await freePort() }), startRedisServer({ port: await freePort() })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([postgres?.stop(), redis?.stop()]);
  });

  test('PostgreSQL answers, in UTC', async () => {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const { rows } = await client.query<{ tz: string }>("select current_setting('TimeZone') as tz");
    expect(rows[0]?.tz).toBe('UTC');
    await client.end();
  });

  test('Redis runs with noeviction and AOF, as BullMQ needs', async () => {
    const client = new Redis(redis.url);
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    client.disconnect();
  });
});
