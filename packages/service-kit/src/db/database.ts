import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { MigrationConfig } from 'drizzle-orm/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { analyzeWhileOpen } from './pglite-analyze.ts';
import { leasePglite, PGLITE_START_PARAMS, type PgliteLease } from './pglite-instances.ts';
import { pgliteTextParsers } from './text-types.ts';
import type { DatabaseHandle, Executor, OpenDatabaseOptions } from './types.ts';

export type { Database, DatabaseDriver, DatabaseHandle, Executor, OpenDatabaseOptions, Transaction } from './types.ts';

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const migrationConfig = {
    migrationsFolder: options.migrationsFolder,
    migrationsTable: options.migrationsTable,
    migrationsSchema: 'drizzle',
  };
  // pg and drizzle's node-postgres driver load only for PostgreSQL: npm start's embedded default never needs them.
  if (isPostgresUrl(options.url)) return (await import('./postgres.ts')).openPostgres(options.url, options, migrationConfig);
  return openPglite(options.url ?? options.defaultDir, migrationConfig);
}

/**
 * The PGlite instance of `location`, shared with every other holder in this process: `npm start` opens it while the
 * services' modules load, so that theirs is ready sooner. Release it once they hold it.
 */
export function leaseEmbeddedDatabase(location: string): Promise<PgliteLease> {
  return leasePglite(location, async (dataDir) => {
    const client = await PGlite.create(dataDir, { extensions: { pg_trgm }, parsers: pgliteTextParsers, startParams: [...PGLITE_START_PARAMS] });
    analyzeWhileOpen(client);
    return client;
  });
}

async function openPglite(location: string, migrationConfig: MigrationConfig): Promise<DatabaseHandle> {
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
