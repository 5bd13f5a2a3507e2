import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { rootCause } from './availability.ts';
import { listenWithReconnect } from './listener.ts';
import { leasePglite, PGLITE_START_PARAMS, type PgliteLease } from './pglite-instances.ts';
import { pgliteTextParsers } from './text-types.ts';

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

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

/** Serialises migrations between instances starting together on one PostgreSQL database. */
const MIGRATION_LOCK_ID = 7_240_113;

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const migrationConfig = {
    migrationsFolder: options.migrationsFolder,
    migrationsTable: options.migrationsTable,
    migrationsSchema: 'drizzle',
  };
  if (isPostgresUrl(options.url)) return openPostgres(options.url, options, migrationConfig);
  return openPglite(options.url ?? options.defaultDir, migrationConfig);
}

/**
 * One attempt: connects, migrates and opens the pool, or throws (the caller decides whether to retry: see
 * startService). Connection loss later is survived: the pool replaces broken connections on the next query, and
 * LISTEN connections reconnect by themselves.
 */
async function openPostgres(
  url: string,
  options: OpenDatabaseOptions,
  migrationConfig: Parameters<typeof migratePg>[1],
): Promise<DatabaseHandle> {
  const connection: pg.ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // Notices a peer that vanished without closing the connection (no RST), given the OS's keepalive settings.
    keepAlive: true,
  };
  await migrate(connection, migrationConfig);
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    ...connection,
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    max: options.poolSize ?? 10,
    idleTimeoutMillis: 30_000,
  });
  const logger = options.logger;
  // A connection lost while idle in the pool: the pool drops it and opens another when next needed.
  pool.on('error', (error) => logger?.warn({ database: rootCause(error) }, 'database connection lost (idle); the pool replaces it'));
  // A connection lost while checked out (inside a transaction) emits 'error' on its client, and the pool listens only
  // while the client is idle: without a listener of our own, Node would end the process. The query in flight fails
  // (503), and the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = drizzlePg(pool);
  const parsed = new URL(url);
  return {
    db,
    driver: 'postgres',
    location: `postgres://${parsed.host}${parsed.pathname}`,
    async ping() {
      await pool.query('SELECT 1');
    },
    listen(channel, onNotify) {
      // A connection of its own, outside the pool: LISTEN holds it for the process's life, and must not take a
      // pooled connection from the queries.
      return listenWithReconnect({ connection, channel, onNotify, logger });
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * Applies the service's migrations on a connection of its own (no statement timeout: a migration may be long, and
 * waiting for another instance's lock is expected), serialised between instances by an advisory lock.
 */
async function migrate(connection: pg.ClientConfig, migrationConfig: Parameters<typeof migratePg>[1]): Promise<void> {
  const client = new pg.Client(connection);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await migratePg(drizzlePg(client), migrationConfig);
  } finally {
    // Ending the session releases the lock too.
    await client.end().catch(() => undefined);
  }
}

/**
 * The PGlite instance of `location`, shared with every other holder in this process: `npm start` opens it while the
 * services' modules load, so that theirs is ready sooner. Release it once they hold it.
 */
export function leaseEmbeddedDatabase(location: string): Promise<PgliteLease> {
  return leasePglite(location, (dataDir) =>
    PGlite.create(dataDir, { extensions: { pg_trgm }, parsers: pgliteTextParsers, startParams: [...PGLITE_START_PARAMS] }),
  );
}

async function openPglite(location: string, migrationConfig: Parameters<typeof migratePglite>[1]): Promise<DatabaseHandle> {
  const inMemory = location.startsWith('memory://');
  // drizzle's text types read as text by the instance itself, so that a plain query() (preparedStatement) reads them
  // as drizzle's own queries do. One instance per directory in this process (npm start: both services share it).
  const { client, release } = await leaseEmbeddedDatabase(inMemory ? 'memory://' : location);
  const db = drizzlePglite(client);
  await migratePglite(db, migrationConfig).catch(async (error: unknown) => {
    await release();
    throw error;
  });
  return {
    db,
    driver: 'pglite',
    location: inMemory ? 'memory://' : location,
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    async listen(channel, onNotify) {
      return client.listen(channel, onNotify);
    },
    close: release,
  };
}

/** Rows of a raw statement, the same on both drivers. */
export async function rowsOf<T>(executor: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await executor.execute(query)) as { rows: T[] };
  return result.rows;
}
