import type pg from 'pg';

/**
 * Runs `fn` in one transaction on a pooled client: it commits when `fn` returns and rolls back when it
 * throws, so a change and its audit event land together or not at all (ARCHITECTURE.md I7). Callers say
 * what a failure means in their own error model: `connectFailed` maps a failure to get a connection (the
 * database is unreachable: retry later), `failed` anything after; by default both are rethrown as is.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  errors: { connectFailed?: (error: unknown) => unknown; failed?: (error: unknown) => unknown } = {},
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw errors.connectFailed ? errors.connectFailed(error) : error;
  }
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw errors.failed ? errors.failed(error) : error;
  } finally {
    client.release();
  }
}
