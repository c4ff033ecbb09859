import type pg from 'pg';
import { inTransaction } from '../../db/transaction.js';
import { LifecycleError } from './errors.js';

/**
 * One transaction on a pooled client: the change and its audit event commit together or not at all
 * (ARCHITECTURE.md I7). Connection-class failures become CHAP_RECORDS_STORE_UNAVAILABLE ("retry");
 * LifecycleErrors pass through as thrown.
 */
export function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, fn, {
    connectFailed: (error) =>
      new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `PostgreSQL is unreachable (${(error as Error).message}): retry when the database is back`, undefined, { cause: error }),
  });
}

export const sqlMs = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
