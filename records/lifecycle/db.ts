import type pg from 'pg';
import { LifecycleError } from './errors.js';

/**
 * One transaction on a pooled client: the change and its audit event commit together or not at all
 * (ARCHITECTURE.md I7). Connection-class failures become CHAP_RECORDS_STORE_UNAVAILABLE ("retry");
 * LifecycleErrors pass through as thrown.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `PostgreSQL is unreachable (${(error as Error).message}): retry when the database is back`, undefined, { cause: error });
  }
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export const sqlMs = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
