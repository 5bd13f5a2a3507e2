import { fileURLToPath } from 'node:url';
import { openDatabase, type DatabaseHandle, type Logger } from '@shop/service-kit';
import { DEFAULT_DATA_DIR, type CrmsConfig } from './config.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../migrations', import.meta.url));
export const MIGRATIONS_TABLE = '__crms_migrations';

/**
 * PostgreSQL (DATABASE_URL=postgres://…, with the configured pool size and timeouts) or PGlite (a directory,
 * `memory://`, or unset: <repo>/data/crms), migrated: one attempt.
 */
export function openCrmsDatabase(
  config: Pick<CrmsConfig, 'DATABASE_URL' | 'DB_POOL_SIZE' | 'DB_CONNECT_TIMEOUT_MS' | 'DB_STATEMENT_TIMEOUT_MS'>,
  logger?: Logger,
): Promise<DatabaseHandle> {
  return openDatabase({
    url: config.DATABASE_URL,
    defaultDir: DEFAULT_DATA_DIR,
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: MIGRATIONS_TABLE,
    poolSize: config.DB_POOL_SIZE,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    logger,
  });
}
