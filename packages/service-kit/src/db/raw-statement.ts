import { hash } from 'node:crypto';
import { parse as pgliteResults, PGlite, protocol } from '@electric-sql/pglite';
import { getTableColumns, type InferSelectModel, type SQL } from 'drizzle-orm';
import { PgDialect, type PgTable } from 'drizzle-orm/pg-core';
import type { Pool } from 'pg';
import { rowsOf, type Database, type Executor } from './database.ts';

/**
 * A statement run straight on the driver under drizzle, as a named prepared statement on both drivers: parsed and
 * planned once per connection, then only bound and executed. For the few statements on a service's hottest paths,
 * where the statement's own handling is the cost; everything else goes through drizzle.
 *
 * - PostgreSQL: node-postgres's named statements.
 * - PGlite: its `query()` parses, describes and plans every statement again and makes five calls into the WASM
 *   backend per query. Here the statement is parsed once, then each run is ONE call carrying Bind, Describe, Execute
 *   and Sync (same exclusivity as `query()`, so it never runs inside another caller's transaction): measured at
 *   ~340 µs against ~560 µs per CRMS create, and more for a longer statement (see docs/benchmarks.md).
 *
 * Rows come back with the database's column names; `rowMapper` turns them into the table's drizzle row.
 */
export function rawStatement<Row = Record<string, unknown>>(db: Database, name: string, text: string): (values: unknown[]) => Promise<Row[]> {
  const client = (db as unknown as { $client: PGlite | Pool }).$client;
  if (client instanceof PGlite) return pgliteStatement<Row>(client, name, text);
  return async (values) => (await client.query({ name, text, values })).rows as Row[];
}

const dialect = new PgDialect();
const statementsOf = new WeakMap<object, Map<string, (values: unknown[]) => Promise<unknown[]>>>();

/**
 * A drizzle `sql` statement run as a named prepared statement (rawStatement, named after its text) when given the
 * database itself; inside a transaction it runs through the transaction as usual. For hot statements whose text
 * takes a few shapes at most: each distinct text is prepared once per connection.
 */
export async function runStatement<Row = Record<string, unknown>>(executor: Executor, query: SQL): Promise<Row[]> {
  if (!('$client' in executor)) return rowsOf<Row>(executor, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  let statements = statementsOf.get(executor);
  if (!statements) statementsOf.set(executor, (statements = new Map()));
  let run = statements.get(text);
  if (!run) {
    run = rawStatement(executor, `kit_${hash('sha256', text).slice(0, 24)}`, text);
    statements.set(text, run);
  }
  return (await run(params)) as Row[];
}

const { serialize } = protocol;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A parameter in PostgreSQL's text format. Without the parameter types PGlite's `query()` asks for first, arrays and
 * bytes would be ambiguous, so they are refused rather than guessed: pass them as text with a cast in the statement.
 */
function textValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) || value instanceof Uint8Array) {
    throw new TypeError('rawStatement on PGlite takes arrays and bytes as text with a cast (e.g. $1::jsonb), not as values');
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** What follows each Bind: the same for every statement. */
const DESCRIBE_EXECUTE_SYNC = concat([serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);

/** The statements prepared on each PGlite instance (one session: a name is prepared once, whoever asks). */
const preparedOn = new WeakMap<PGlite, Map<string, { text: string; ready: Promise<unknown> }>>();

function pgliteStatement<Row>(client: PGlite, name: string, text: string): (values: unknown[]) => Promise<Row[]> {
  const exclusive = <T>(fn: () => Promise<T>) => client._runExclusiveTransaction(() => client.runExclusive(fn));
  let statements = preparedOn.get(client);
  if (!statements) preparedOn.set(client, (statements = new Map()));
  const known = statements;
  const prepare = (): Promise<unknown> => {
    const existing = known.get(name);
    if (existing) {
      if (existing.text !== text) throw new Error(`Prepared statement "${name}" already exists with another text`);
      return existing.ready;
    }
    const ready = exclusive(() => client.execProtocol(concat([serialize.parse({ name, text, types: [] }), serialize.sync()])));
    known.set(name, { text, ready });
    // A failed Parse prepared nothing: the next run tries again.
    ready.catch(() => known.delete(name));
    return ready;
  };
  return async (values) => {
    await prepare();
    const bind = serialize.bind({ statement: name, values: values.map(textValue) });
    const { messages } = await exclusive(() => client.execProtocol(concat([bind, DESCRIBE_EXECUTE_SYNC])));
    return (pgliteResults.parseResults(messages, client.parsers)[0]?.rows ?? []) as Row[];
  };
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
