import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { Logger } from '../observability/logger.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's schema (drizzle's own default)
export type Database = PgDatabase<PgQueryResultHKT, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same for a transaction
export type Transaction = PgTransaction<PgQueryResultHKT, any, any>;
/** What repositories accept: the database itself or a transaction the caller opened. */
export type Executor = Database | Transaction;

export type DatabaseDriver = 'pglite' | 'postgres';

export interface DatabaseHandle {
  db: Database;
  driver: DatabaseDriver;
  /** Where the data lives, without credentials, for logs. */
  location: string;
  ping(): Promise<void>;
  /** LISTEN on a channel; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` for PostgreSQL; a directory or `memory://` for PGlite; unset: PGlite under `defaultDir`. */
  url: string | undefined;
  defaultDir: string;
  /** drizzle-kit's output folder for this service. */
  migrationsFolder: string;
  /** Each service keeps its own migration journal, so two services may share one PostgreSQL database. */
  migrationsTable: string;
  poolSize?: number;
  /** PostgreSQL: longest wait for a new connection, and for a free one from the pool (default 5 s). */
  connectTimeoutMs?: number;
  /** PostgreSQL: statement_timeout of the pool's connections, 0 for none (default 30 s; migrations have none). */
  statementTimeoutMs?: number;
  /** Where connection trouble of the pool and the LISTEN connections is reported (default: nowhere). */
  logger?: Logger;
}
