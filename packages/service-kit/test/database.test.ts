import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, type DatabaseHandle } from '../src/index.ts';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '../src/testing/index.ts';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));
const open = (url: string, poolSize?: number) =>
  openDatabase({ url, defaultDir: '/nonexistent', migrationsFolder, migrationsTable: 'kit_test_migrations', poolSize });

describe.each(testDatabaseDrivers())('database bootstrap on %s', (driver) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, 'kit');
    handle = await open(testDb.url);
  });
  afterAll(async () => {
    await handle.close();
    await testDb.drop();
  });

  it('applies migrations (with pg_trgm) and answers queries', async () => {
    expect(handle.driver).toBe(driver);
    await handle.ping();
    await handle.db.execute(sql`INSERT INTO widgets (name) VALUES ('a'), ('b')`);
    const rows = await rowsOf<{ n: number }>(handle.db, sql`SELECT count(*)::int AS n FROM widgets`);
    expect(rows[0]?.n).toBe(2);
    const similarity = await rowsOf<{ s: number }>(handle.db, sql`SELECT similarity('widget', 'widgets') AS s`);
    expect(similarity[0]!.s).toBeGreaterThan(0.5);
  });

  it('delivers NOTIFY to a listener', async () => {
    const received: string[] = [];
    const unlisten = await handle.listen('kit_test_channel', (payload) => received.push(payload));
    await handle.db.execute(sql`SELECT pg_notify('kit_test_channel', 'hello')`);
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await unlisten();
    expect(received).toEqual(['hello']);
  });

  it.runIf(driver === 'postgres')('lets several instances migrate one database at once', async () => {
    const handles = await Promise.all([open(testDb.url), open(testDb.url), open(testDb.url)]);
    const rows = await rowsOf<{ n: number }>(handle.db, sql`SELECT count(*)::int AS n FROM drizzle.kit_test_migrations`);
    expect(rows[0]?.n).toBe(1);
    await Promise.all(handles.map((h) => h.close()));
  });

  it.runIf(driver === 'postgres')('starts with a pool of a single connection', async () => {
    const single = await open(testDb.url, 1);
    const unlisten = await single.listen('kit_single_channel', () => undefined);
    await single.ping(); // the listener does not hold the pool's only connection
    await unlisten();
    await single.close();
  });
});
