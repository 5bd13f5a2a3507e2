import type { MigrationConfig } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { rootCause } from './availability.ts';
import type { DatabaseHandle, OpenDatabaseOptions } from './types.ts';
import { listenWithReconnect } from './listener.ts';

/** Serialises migrations between instances starting together on one PostgreSQL database. */
const MIGRATION_LOCK_ID = 7_240_113;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * One attempt: connects, migrates and opens the pool, or throws (the caller decides whether to retry: see
 * startService). Connection loss later is survived: the pool replaces broken connections on the next query, and
 * LISTEN connections reconnect by themselves.
 */
export async function openPostgres(
  url: string,
  options: OpenDatabaseOptions,
  migrationConfig: MigrationConfig,
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
async function migrate(connection: pg.ClientConfig, migrationConfig: MigrationConfig): Promise<void> {
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
