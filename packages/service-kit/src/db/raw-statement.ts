import { PGlite } from '@electric-sql/pglite';
import { getTableColumns, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Pool } from 'pg';
import type { Database } from './database.ts';

/**
 * A statement run straight on the driver under drizzle: a named prepared statement on PostgreSQL (parsed and planned
 * once per connection), a plain query on PGlite. For the few statements on a service's hottest path, where the
 * statement's own text is the cost: drizzle's insert names every column of the table (`default` for the ones not
 * given) and returns them one by one, and on PGlite, which parses and plans every query, that longer text cost about
 * 100 µs per insert against the same insert written out (see docs/crms.md). Everything else goes through drizzle.
 *
 * Rows come back with the database's column names; `rowMapper` turns them into the table's drizzle row.
 */
export function rawStatement<Row = Record<string, unknown>>(db: Database, name: string, text: string): (values: unknown[]) => Promise<Row[]> {
  const client = (db as unknown as { $client: PGlite | Pool }).$client;
  if (client instanceof PGlite) {
    return async (values) => (await client.query<Row>(text, values)).rows;
  }
  return async (values) => (await client.query({ name, text, values })).rows as Row[];
}

type Decoder = { mapFromDriverValue(value: unknown): unknown };

/**
 * Maps a row named by database columns (`SELECT *`, `RETURNING *`) to the table's drizzle row, decoding each value
 * the way drizzle's own queries do (timestamps to Date, numeric by its mode, JSON parsed), whichever driver read it.
 */
export function rowMapper<T extends PgTable>(table: T): (row: Record<string, unknown>) => InferSelectModel<T> {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => [key, column.name, column as unknown as Decoder] as const);
  return (row) => {
    const mapped: Record<string, unknown> = {};
    for (const [key, name, decoder] of columns) {
      const value = row[name];
      mapped[key] = value === null || value === undefined ? null : decoder.mapFromDriverValue(value);
    }
    return mapped as InferSelectModel<T>;
  };
}
