import { hash } from 'node:crypto';
import { PGlite, type Transaction as PgliteTransaction } from '@electric-sql/pglite';
import { getTableColumns, type InferSelectModel, type SQL } from 'drizzle-orm';
import { PgDialect, type PgTable } from 'drizzle-orm/pg-core';
import { drizzle as drizzleProxy } from 'drizzle-orm/pg-proxy';
import type { Pool } from 'pg';
import { SpanKind } from '@opentelemetry/api';
import { tracingEnabled, withLeafSpan } from '../observability/tracing.ts';
import { rowsOf, type Database, type Executor } from './database.ts';

/** db/postgres-statements.ts, loaded by the first statement or transaction on PostgreSQL: PGlite never loads pg. */
let postgres: typeof import('./postgres-statements.ts') | undefined;
/** `use` with that module, without an extra await once it is loaded (a hot path). */
function onPostgres<T>(use: (module: typeof import('./postgres-statements.ts')) => Promise<T>): Promise<T> {
  return postgres ? use(postgres) : loadPostgres().then(use);
}
async function loadPostgres() {
  return (postgres ??= await import('./postgres-statements.ts'));
}

/**
 * A hot statement written out (`$1`, `$2`, …), run through the driver's public API (CONVENTIONS.md, "Hot statements").
 * Pass JSON as text (node-postgres would send an array as a PostgreSQL array); `rowMapper` gives drizzle's row.
 */
export function preparedStatement<Row = Record<string, unknown>>(db: Database, name: string, text: string): (values: unknown[]) => Promise<Row[]> {
  const client = (db as unknown as { $client: PGlite | Pool }).$client;
  const run: (values: unknown[]) => Promise<Row[]> =
    client instanceof PGlite
      ? pgliteStatement<Row>(client, name, text)
      : (values) => onPostgres((module) => module.namedStatement<Row>(client, name, text, values));
  // A CLIENT span per run while tracing is on, named by the statement (never its values); the text is in the code,
  // and encoding it into every span cost more than the rest of the span's attributes (docs/operations.md).
  const attributes = { 'db.system.name': 'postgresql', 'db.statement.name': name };
  const spanName = querySummary(text);
  return (values) => (tracingEnabled() ? withLeafSpan(spanName, { kind: SpanKind.CLIENT, attributes }, () => run(values)) : run(values));
}

/** `INSERT customers`, `SELECT users`: the operation and the first table, as span names (OpenTelemetry's DB conventions). */
function querySummary(text: string): string {
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  const table = /\b(?:FROM|INTO|UPDATE)\s+"?([\w.]+)"?/i.exec(text)?.[1];
  return table ? `${operation} ${table}` : operation;
}

/** The statements PREPAREd on each PGlite instance (one session: they last as long as it). */
type Prepared = Map<string, { text: string; ready: Promise<unknown>; settled: boolean }>;
const preparedOn = new WeakMap<PGlite, Prepared>();

/**
 * A string constant as pg's escapeLiteral writes it: quotes doubled, and with a backslash E'…' with backslashes doubled
 * (right whatever standard_conforming_strings says). Here rather than pg's, so that PGlite never loads pg.
 */
function quoted(text: string): string {
  const constant = `'${text.replaceAll("'", "''")}'`;
  return text.includes('\\') ? `E${constant.replaceAll('\\', '\\\\')}` : constant;
}

/** A value as a quoted literal, typed by the statement's parameter, as query() would send it. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return quoted(value.toISOString());
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return quoted(value.toString());
  return quoted(JSON.stringify(value));
}

type Exec = (statement: string) => Promise<Array<{ rows: unknown[] }>>;

/**
 * On PGlite (no named statements in its API): SQL PREPARE once, then EXECUTE through exec(), half query()'s CPU;
 * `exec` is the instance's, or a transaction's for a statement inside it (a session's statements outlive a rollback).
 */
function pgliteStatement<Row>(client: PGlite, name: string, text: string): (values: unknown[], exec?: Exec) => Promise<Row[]> {
  let statements = preparedOn.get(client);
  if (!statements) preparedOn.set(client, (statements = new Map() as Prepared));
  const known = statements.get(name);
  if (known && known.text !== text) throw new Error(`prepared statement ${name} already exists with another text`);
  const identifier = `"${name.replaceAll('"', '""')}"`; // as pg's escapeIdentifier
  const prepare = (prepared: Prepared, exec: Exec) => {
    const entry = { text, ready: exec(`PREPARE ${identifier} AS ${text}`), settled: false };
    prepared.set(name, entry);
    entry.ready.then(
      () => (entry.settled = true),
      () => prepared.delete(name), // the next run tries again, and reports the error
    );
    return entry.ready;
  };
  const onInstance: Exec = (statement) => client.exec(statement);
  return async (values, exec = onInstance) => {
    await (statements.get(name)?.ready ?? prepare(statements, exec));
    const args = values.length > 0 ? `(${values.map(literal).join(', ')})` : '';
    const [result] = await exec(`EXECUTE ${identifier}${args}`);
    return (result?.rows ?? []) as Row[];
  };
}

/**
 * A transaction for a hot write path, in which runStatement runs prepared statements. On PGlite: PGlite's own
 * transaction() (its lock keeps other queries out) and drizzle's pg-proxy driver over it, whose queries bring no
 * parsers, so PGlite does not copy its ~320-entry parser table per query as under drizzle's pglite driver. On
 * PostgreSQL: BEGIN … COMMIT on one pooled connection (docs/aths.md "Performance"). No nested transactions.
 */
export async function writeTransaction<T>(db: Database, work: (tx: Executor) => Promise<T>): Promise<T> {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (!(client instanceof PGlite)) {
    return onPostgres((module) => module.postgresWriteTransaction(client as Pool, work));
  }
  return client.transaction((tx) => {
    const executor = drizzleOver(tx);
    pgliteTransactions.set(executor, { client, tx });
    return work(executor);
  });
}

/** The PGlite transactions of writeTransaction, by the executor their work gets: runStatement EXECUTEs in them. */
const pgliteTransactions = new WeakMap<object, { client: PGlite; tx: PgliteTransaction }>();

function drizzleOver(tx: PgliteTransaction): Database {
  return drizzleProxy(async (text, params, method) => {
    if (method === 'all') return { rows: (await tx.query(text, params, { rowMode: 'array' })).rows };
    // execute() answers PGlite's whole result ({ rows, affectedRows, fields }), as under drizzle's pglite driver.
    return { rows: (await tx.query(text, params)) as never };
  });
}

const dialect = new PgDialect();
const statementsOf = new WeakMap<object, Map<string, (values: unknown[]) => Promise<unknown[]>>>();

/**
 * A drizzle `sql` statement run with `preparedStatement` (named after its text) when given the database itself, and
 * prepared too inside writeTransaction's transaction; inside other transactions it runs through the transaction as
 * usual. For hot statements of a few shapes at most.
 */
export async function runStatement<Row = Record<string, unknown>>(executor: Executor, query: SQL): Promise<Row[]> {
  const pgliteTransaction = pgliteTransactions.get(executor);
  if (pgliteTransaction) {
    const { sql: text, params } = dialect.sqlToQuery(query);
    const { client, tx } = pgliteTransaction;
    const name = statementName(text);
    // A PREPARE still waiting outside waits for this transaction's lock: waiting for it here would never end.
    const pending = preparedOn.get(client)?.get(name)?.settled === false;
    if (pending) return (await tx.query<Row>(text, params)).rows;
    return pgliteStatement<Row>(client, name, text)(params, (statement) => tx.exec(statement));
  }
  if (!('$client' in executor)) return rowsOf<Row>(executor, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  const inTransaction = postgres?.inPostgresTransaction<Row>(executor, statementName(text), text, params);
  if (inTransaction) return inTransaction;
  let statements = statementsOf.get(executor);
  if (!statements) statementsOf.set(executor, (statements = new Map<string, (values: unknown[]) => Promise<unknown[]>>()));
  let run = statements.get(text);
  if (!run) {
    run = preparedStatement(executor, statementName(text), text);
    statements.set(text, run);
  }
  return (await run(params)) as Row[];
}

type Decoder = { mapFromDriverValue(value: unknown): unknown };

/**
 * Maps a row named by database columns (`SELECT *`, `RETURNING *`) to the table's drizzle row, decoding each value
 * with the column's own `mapFromDriverValue`, as drizzle's queries do (both drivers read drizzle's text types as text).
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

const statementNames = new Map<string, string>();
/** A statement's name from its text (cached: runStatement serves a few shapes of hot statements). */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `kit_${hash('sha256', text).slice(0, 24)}`));
  return name;
}
