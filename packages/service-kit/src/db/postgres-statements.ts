import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { pgTextTypes } from './text-types.ts';
import type { Executor } from './types.ts';

/**
 * Hot statements on PostgreSQL: node-postgres named statements (parsed and planned once per connection), on the pool
 * or inside writeTransaction's transaction (BEGIN … COMMIT on one pooled connection, drizzle over that connection as
 * its executor). Loaded only for PostgreSQL (PGlite never loads pg). docs/aths.md "Performance".
 */

const types = pgTextTypes(pg.types);

/** Runs a named statement on the pool (any connection) or on one connection. */
export function namedStatement<Row>(client: pg.Pool | pg.PoolClient, name: string, text: string, values: unknown[]): Promise<Row[]> {
  return client.query({ name, text, values, types }).then((result) => result.rows as Row[]);
}

/** The connection of each open transaction, by the executor its work gets. */
const connections = new WeakMap<object, pg.PoolClient>();

export async function postgresWriteTransaction<T>(pool: pg.Pool, work: (tx: Executor) => Promise<T>): Promise<T> {
  const connection = await pool.connect();
  const tx = drizzle(connection);
  connections.set(tx, connection);
  // A connection whose ROLLBACK failed is in an unknown state: the pool must close it rather than hand it out again.
  let broken: Error | undefined;
  try {
    await connection.query('BEGIN');
    const result = await work(tx);
    await connection.query('COMMIT');
    return result;
  } catch (error) {
    await connection.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    connections.delete(tx);
    connection.release(broken);
  }
}

/** Runs a named statement in the transaction that gave `executor`, or returns undefined when `executor` is not one. */
export function inPostgresTransaction<Row>(executor: object, name: string, text: string, values: unknown[]): Promise<Row[]> | undefined {
  const connection = connections.get(executor);
  return connection ? namedStatement<Row>(connection, name, text, values) : undefined;
}
