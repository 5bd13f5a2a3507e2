import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseDriver } from '../db/database.ts';

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL points at a server (CI sets it). */
export function testDatabaseDrivers(): DatabaseDriver[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestDatabase {
  url: string;
  drop: () => Promise<void>;
}

/**
 * A throw-away database: in-memory PGlite, or a uniquely named PostgreSQL database on the TEST_DATABASE_URL
 * server (other runs share that server), dropped afterwards.
 */
export async function createTestDatabase(
  driver: DatabaseDriver,
  label = 't',
  adminUrl = process.env.TEST_DATABASE_URL,
): Promise<TestDatabase> {
  if (driver === 'pglite') return { url: 'memory://', drop: async () => undefined };
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `${label}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
