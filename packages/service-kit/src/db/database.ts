import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { installDrizzleParsers } from './pglite-parsers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Database = PgDatabase<PgQueryResultHKT, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
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
}

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
  if (isPostgresUrl(options.url)) return openPostgres(options.url, options.poolSize ?? 10, migrationConfig);
  return openPglite(options.url ?? options.defaultDir, migrationConfig);
}

async function openPostgres(
  url: string,
  poolSize: number,
  migrationConfig: Parameters<typeof migratePg>[1],
): Promise<DatabaseHandle> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = drizzlePg(pool);
  const lockClient = await pool.connect();
  try {
    // Lock and migrate on the same connection, so even a pool of one connection cannot deadlock here.
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await migratePg(drizzlePg(lockClient), migrationConfig);
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    lockClient.release();
  }
  const parsed = new URL(url);
  return {
    db,
    driver: 'postgres',
    location: `postgres://${parsed.host}${parsed.pathname}`,
    async ping() {
      await pool.query('SELECT 1');
    },
    async listen(channel, onNotify) {
      // A connection of its own, outside the pool: LISTEN holds it for the process's life, and must not take a
      // pooled connection from the queries. If it drops, listeners fall back on their periodic polling.
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        await client.end().catch(() => undefined);
      };
    },
    async close() {
      await pool.end();
    },
  };
}

async function openPglite(location: string, migrationConfig: Parameters<typeof migratePglite>[1]): Promise<DatabaseHandle> {
  const inMemory = location.startsWith('memory://');
  if (!inMemory) mkdirSync(location, { recursive: true });
  const client = installDrizzleParsers(await PGlite.create(inMemory ? 'memory://' : location, { extensions: { pg_trgm } }));
  const db = drizzlePglite(client);
  await migratePglite(db, migrationConfig);
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
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

/** Rows of a raw statement, the same on both drivers. */
export async function rowsOf<T>(executor: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
