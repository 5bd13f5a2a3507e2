import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { integer, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, rawStatement, rowMapper, rowsOf, type DatabaseHandle } from '../src/index.ts';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '../src/testing/index.ts';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));
const open = (url: string, poolSize?: number) =>
  openDatabase({ url, defaultDir: '/nonexistent', migrationsFolder, migrationsTable: 'kit_test_migrations', poolSize });

const gadgets = pgTable('gadgets', {
  id: text('id').primaryKey(),
  count: integer('count').notNull(),
  price: numeric('price', { precision: 10, scale: 2, mode: 'number' }).notNull(),
  tags: jsonb('tags').$type<string[]>().notNull(),
  seenAt: timestamp('seen_at', { withTimezone: true, precision: 3 }),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

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

  it('runs raw statements on the driver, rows decoded exactly as drizzle decodes them', async () => {
    await handle.db.execute(sql`CREATE TABLE gadgets (id text PRIMARY KEY, count integer NOT NULL, price numeric(10, 2) NOT NULL,
      tags jsonb NOT NULL, seen_at timestamptz(3), created_at timestamptz(3) NOT NULL DEFAULT now())`);
    const insert = rawStatement(handle.db, 'kit_gadget_insert', 'INSERT INTO gadgets (id, count, price, tags, seen_at) VALUES ($1, $2, $3, $4, $5) RETURNING *');
    const byId = rawStatement(handle.db, 'kit_gadget_by_id', 'SELECT * FROM gadgets WHERE id = $1');
    const toGadget = rowMapper(gadgets);
    const seenAt = new Date('2026-11-26T01:02:03.456Z');
    const [first] = await insert(['a', 3, '12.50', JSON.stringify(['x', 'y']), seenAt]);
    const [second] = await insert(['b', 0, '0', '[]', null]);
    // Run twice: the second run reuses the named prepared statement on PostgreSQL.
    const read = [toGadget((await byId(['a']))[0]!), toGadget((await byId(['b']))[0]!)];
    const viaDrizzle = [
      ...(await handle.db.select().from(gadgets).where(eq(gadgets.id, 'a'))),
      ...(await handle.db.select().from(gadgets).where(eq(gadgets.id, 'b'))),
    ];
    expect(read).toEqual(viaDrizzle);
    expect([toGadget(first!), toGadget(second!)]).toEqual(viaDrizzle);
    expect(read[0]).toMatchObject({ id: 'a', count: 3, price: 12.5, tags: ['x', 'y'], seenAt });
    expect(read[0]!.createdAt).toBeInstanceOf(Date);
    expect(read[1]).toMatchObject({ price: 0, tags: [], seenAt: null });
    expect(await byId(['missing'])).toEqual([]);
    // An object goes as JSON text; arrays are refused on PGlite, where their type is not known in advance.
    const [third] = await insert(['c', 1, 2, { tag: 'x' }, null]);
    expect(toGadget(third!).tags).toEqual({ tag: 'x' });
    if (driver === 'pglite') await expect(insert(['d', 1, 2, ['x'], null])).rejects.toThrow(TypeError);
  });

  it('raw statements report database errors with their SQLSTATE, then keep working', async () => {
    const insert = rawStatement(handle.db, 'kit_gadget_insert_again', 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id');
    await insert(['dup', 1, '1', '[]']);
    await expect(insert(['dup', 1, '1', '[]'])).rejects.toMatchObject({ code: '23505' });
    await expect(insert(['bad', 'not a number', '1', '[]'])).rejects.toMatchObject({ code: '22P02' });
    expect(await insert(['after', 2, '2', '[]'])).toEqual([{ id: 'after' }]);
  });

  it('raw statements never run inside another caller’s transaction, and many can run at once', async () => {
    const insert = rawStatement(handle.db, 'kit_gadget_insert_outside', 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id');
    let raw: Promise<unknown> | undefined;
    await expect(
      handle.db.transaction(async (tx) => {
        await tx.insert(gadgets).values({ id: 'in-tx', count: 1, price: 1, tags: [] });
        raw = insert(['outside-tx', 1, '1', '[]']);
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await raw;
    const ids = (await handle.db.select({ id: gadgets.id }).from(gadgets)).map((row) => row.id);
    expect(ids).toContain('outside-tx');
    expect(ids).not.toContain('in-tx');

    // Another holder of the same statement (a second app on the same database) shares it.
    const again = rawStatement(handle.db, 'kit_gadget_insert_outside', 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id');
    expect(await again(['shared', 1, '1', '[]'])).toEqual([{ id: 'shared' }]);

    const many = await Promise.all(Array.from({ length: 25 }, (_, i) => insert([`many-${i}`, i, String(i), '[]'])));
    expect(many.map((rows) => rows[0])).toEqual(Array.from({ length: 25 }, (_, i) => ({ id: `many-${i}` })));
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
