import { fileURLToPath } from 'node:url';
import { eq, inArray, sql } from 'drizzle-orm';
import { date, integer, interval, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation, openDatabase, preparedStatement, rowMapper, rowsOf, runStatement, writeTransaction, type DatabaseHandle } from '../src/index.ts';
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

// Every type drizzle reads as text, in each of its modes.
const samples = pgTable('samples', {
  id: integer('id').primaryKey(),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
  atString: timestamp('at_string', { withTimezone: true, mode: 'string' }).notNull(),
  local: timestamp('local', { mode: 'date' }).notNull(),
  day: date('day').notNull(),
  dayDate: date('day_date', { mode: 'date' }).notNull(),
  span: interval('span').notNull(),
  amount: numeric('amount', { precision: 10, scale: 2, mode: 'number' }).notNull(),
  amounts: numeric('amounts').array().notNull(),
  moments: timestamp('moments', { withTimezone: true, mode: 'string' }).array().notNull(),
});

const SAMPLE = {
  id: 1,
  at: new Date('2026-11-26T03:04:05.678Z'),
  atString: '2026-11-26 03:04:05.678+00',
  local: new Date('2026-01-02T03:04:05.000Z'),
  day: '2026-02-03',
  dayDate: new Date('2026-02-03T00:00:00.000Z'),
  span: '1 day 02:03:04',
  amount: 1234.5,
  amounts: ['1.50', '2.25'],
  moments: ['2026-11-26 03:04:05+00', '2027-01-01 00:00:00+00'],
};

describe.each(testDatabaseDrivers())('prepared statements on %s', (driver) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, 'kit_stmt');
    // One connection on PostgreSQL, so that pg_prepared_statements shows what the pool's connection holds.
    handle = await open(testDb.url, 1);
    await handle.db.execute(sql`CREATE TABLE gadgets (id text PRIMARY KEY, count integer NOT NULL, price numeric(10, 2) NOT NULL,
      tags jsonb NOT NULL, seen_at timestamptz(3), created_at timestamptz(3) NOT NULL DEFAULT now())`);
    await handle.db.execute(sql`CREATE TABLE samples (id integer PRIMARY KEY, at timestamptz(3) NOT NULL, at_string timestamptz NOT NULL,
      local timestamp NOT NULL, day date NOT NULL, day_date date NOT NULL, span interval NOT NULL,
      amount numeric(10, 2) NOT NULL, amounts numeric[] NOT NULL, moments timestamptz[] NOT NULL)`);
  });
  afterAll(async () => {
    await handle.close();
    await testDb.drop();
  });

  it('decodes rows exactly as drizzle does, for every type drizzle reads as text', async () => {
    await handle.db.insert(samples).values(SAMPLE);
    const [row] = await preparedStatement(handle.db, 'kit_sample_by_id', 'SELECT * FROM samples WHERE id = $1')([1]);
    const viaDrizzle = await handle.db.select().from(samples).where(eq(samples.id, 1));
    expect(viaDrizzle).toEqual([SAMPLE]);
    expect([rowMapper(samples)(row!)]).toEqual(viaDrizzle);
  });

  it('runs written-out statements, rows decoded exactly as drizzle decodes them', async () => {
    const insert = preparedStatement(handle.db, 'kit_gadget_insert', 'INSERT INTO gadgets (id, count, price, tags, seen_at) VALUES ($1, $2, $3, $4, $5) RETURNING *');
    const byId = preparedStatement(handle.db, 'kit_gadget_by_id', 'SELECT * FROM gadgets WHERE id = $1');
    const toGadget = rowMapper(gadgets);
    const seenAt = new Date('2026-11-26T01:02:03.456Z');
    const [first] = await insert(['a', 3, '12.50', JSON.stringify(['x', 'y']), seenAt]);
    const [second] = await insert(['b', 0, '0', '[]', null]);
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
    // An object goes as JSON on both drivers.
    const [third] = await insert(['c', 1, 2, { tag: 'x' }, null]);
    expect(toGadget(third!).tags).toEqual({ tag: 'x' });
  });

  it('prepares each statement once per connection (PGlite: its one session), by name', async () => {
    const named = await rowsOf<{ name: string; statement: string }>(
      handle.db,
      sql`SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'kit_gadget%' ORDER BY name`,
    );
    expect(named.map((row) => row.name)).toEqual(['kit_gadget_by_id', 'kit_gadget_insert']);
    expect(named[0]!.statement).toMatch(/(^| AS )SELECT \* FROM gadgets WHERE id = \$1$/);
  });

  it('sends values intact whatever characters they hold (quotes, backslashes, SQL)', async () => {
    const insert = preparedStatement(handle.db, 'kit_gadget_insert_text', 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id, tags');
    const awkward = [`o'brien`, `back\\slash\\'`, `'); DROP TABLE gadgets; --`, `E'\\x00'`, `$$dollar$$`, `ünï ✓ 名`];
    for (const id of awkward) expect(await insert([id, 1, '1', JSON.stringify([id])])).toEqual([{ id, tags: [id] }]);
    const stored = await handle.db.select({ id: gadgets.id, tags: gadgets.tags }).from(gadgets).where(inArray(gadgets.id, awkward));
    expect(stored.map((row) => row.id).sort()).toEqual([...awkward].sort());
    expect(stored.every((row) => JSON.stringify(row.tags) === JSON.stringify([row.id]))).toBe(true);
  });

  it('reports database errors with their SQLSTATE, then keeps working', async () => {
    const insert = preparedStatement(handle.db, 'kit_gadget_insert_again', 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id');
    await insert(['dup', 1, '1', '[]']);
    await expect(insert(['dup', 1, '1', '[]'])).rejects.toMatchObject({ code: '23505' });
    await expect(insert(['bad', 'not a number', '1', '[]'])).rejects.toMatchObject({ code: '22P02' });
    expect(await insert(['after', 2, '2', '[]'])).toEqual([{ id: 'after' }]);
  });

  it('never runs inside another caller’s transaction, and many can run at once', async () => {
    const text = 'INSERT INTO gadgets (id, count, price, tags) VALUES ($1, $2, $3, $4) RETURNING id';
    const insert = preparedStatement(handle.db, 'kit_gadget_insert_outside', text);
    let outside: Promise<unknown> | undefined;
    await expect(
      handle.db.transaction(async (tx) => {
        await tx.insert(gadgets).values({ id: 'in-tx', count: 1, price: 1, tags: [] });
        outside = insert(['outside-tx', 1, '1', '[]']);
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await outside;
    const ids = (await handle.db.select({ id: gadgets.id }).from(gadgets)).map((row) => row.id);
    expect(ids).toContain('outside-tx');
    expect(ids).not.toContain('in-tx');

    // Another holder of the same statement (a second app on the same database) shares it.
    expect(await preparedStatement(handle.db, 'kit_gadget_insert_outside', text)(['shared', 1, '1', '[]'])).toEqual([{ id: 'shared' }]);

    const many = await Promise.all(Array.from({ length: 25 }, (_, i) => insert([`many-${i}`, i, String(i), '[]'])));
    expect(many.map((rows) => rows[0])).toEqual(Array.from({ length: 25 }, (_, i) => ({ id: `many-${i}` })));
  });

  it('runStatement runs a drizzle sql statement on the database, or inside the caller’s transaction', async () => {
    const insert = (ex: Parameters<typeof runStatement>[0], id: string) =>
      runStatement<{ id: string }>(ex, sql`INSERT INTO ${gadgets} (id, count, price, tags) VALUES (${id}, 1, 1, '[]') RETURNING id`);
    expect(await insert(handle.db, 'run-1')).toEqual([{ id: 'run-1' }]);
    expect(await insert(handle.db, 'run-2')).toEqual([{ id: 'run-2' }]);
    await expect(
      handle.db.transaction(async (tx) => {
        expect(await insert(tx, 'run-in-tx')).toEqual([{ id: 'run-in-tx' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const ids = (await handle.db.select({ id: gadgets.id }).from(gadgets)).map((row) => row.id);
    expect(ids).toEqual(expect.arrayContaining(['run-1', 'run-2']));
    expect(ids).not.toContain('run-in-tx');
  });

  it('runStatement inside writeTransaction: values intact, rolled back with it, the statement still prepared after', async () => {
    const insert = (tx: Parameters<typeof runStatement>[0], id: string) =>
      runStatement<{ id: string }>(tx, sql`INSERT INTO ${gadgets} (id, count, price, tags) VALUES (${id}, ${2}, ${'2.5'}, ${JSON.stringify([id])}) RETURNING id`);
    await expect(
      writeTransaction(handle.db, async (tx) => {
        expect(await insert(tx, `run-wt-'1\\`)).toEqual([{ id: `run-wt-'1\\` }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // Prepared on the transaction's session (PGlite: PREPAREd once on the instance; PostgreSQL: on the pooled connection).
    const prepared = await writeTransaction(handle.db, async (tx) => {
      expect(await insert(tx, 'run-wt-2')).toEqual([{ id: 'run-wt-2' }]);
      return rowsOf<{ statement: string }>(tx, sql`SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%"gadgets" (id, count, price, tags) VALUES ($1, $2, $3, $4)%'`);
    });
    expect(prepared).toHaveLength(1);
    const ids = (await handle.db.select({ id: gadgets.id }).from(gadgets)).map((row) => row.id);
    expect(ids).toContain('run-wt-2');
    expect(ids).not.toContain(`run-wt-'1\\`);
  });

  it('runStatement inside writeTransaction does not wait for the same statement being prepared outside it', async () => {
    const query = (id: string) => sql`INSERT INTO ${gadgets} (id, count, price, tags) VALUES (${id}, ${3}, ${'3'}, ${'[]'}) ON CONFLICT DO NOTHING RETURNING id`;
    let outside: Promise<unknown> | undefined;
    const inside = await writeTransaction(handle.db, async (tx) => {
      // Outside the transaction: on PGlite its PREPARE waits for the transaction's lock.
      outside = runStatement(handle.db, query('run-wt-outside'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      return runStatement<{ id: string }>(tx, query('run-wt-inside'));
    });
    expect(inside).toEqual([{ id: 'run-wt-inside' }]);
    expect(await outside).toEqual([{ id: 'run-wt-outside' }]);
  });

  it('writeTransaction: query builder, RETURNING, raw rows and SQLSTATEs inside; commits or rolls back as one; others wait', async () => {
    const row = await writeTransaction(handle.db, async (tx) => {
      const [inserted] = await tx.insert(gadgets).values({ id: 'wt-1', count: 1, price: 1.5, tags: ['a'] }).returning();
      await runStatement(tx, sql`INSERT INTO ${gadgets} (id, count, price, tags) VALUES ('wt-2', 2, 2, '[]')`);
      expect(await rowsOf<{ id: string }>(tx, sql`SELECT id FROM gadgets WHERE id LIKE 'wt-%' ORDER BY id`)).toEqual([{ id: 'wt-1' }, { id: 'wt-2' }]);
      return inserted;
    });
    expect(row).toMatchObject({ id: 'wt-1', count: 1, price: 1.5, tags: ['a'], seenAt: null });
    expect(row!.createdAt).toBeInstanceOf(Date);

    let outside: Promise<unknown> | undefined;
    const failed = await writeTransaction(handle.db, async (tx) => {
      await tx.insert(gadgets).values({ id: 'wt-3', count: 3, price: 3, tags: [] });
      outside = handle.db.insert(gadgets).values({ id: 'wt-outside', count: 4, price: 4, tags: [] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await tx.insert(gadgets).values({ id: 'wt-1', count: 1, price: 1, tags: [] });
    }).catch((error: unknown) => error);
    expect(isUniqueViolation(failed)).toBe(true);
    await outside;
    const ids = (await handle.db.select({ id: gadgets.id }).from(gadgets)).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['wt-1', 'wt-2', 'wt-outside']));
    expect(ids).not.toContain('wt-3');
  });
});
