import { PGlite, type QueryOptions } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { date, integer, interval, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDrizzleParsers } from '../src/db/pglite-parsers.ts';

const samples = pgTable('samples', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
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

const CREATE = sql`CREATE TABLE samples (
  id integer PRIMARY KEY, name text NOT NULL, at timestamptz(3) NOT NULL, at_string timestamptz NOT NULL,
  local timestamp NOT NULL, day date NOT NULL, day_date date NOT NULL, span interval NOT NULL,
  amount numeric(10, 2) NOT NULL, amounts numeric[] NOT NULL, moments timestamptz[] NOT NULL)`;

const ROW = {
  id: 1,
  name: 'sample',
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

/** The same statements through drizzle on a plain PGlite and on one with the parsers installed. */
describe('PGlite with drizzle’s parsers installed once', () => {
  let plain: PGlite;
  let tuned: PGlite;
  const optionsSeen: (QueryOptions | undefined)[] = [];
  let transactionQueries = 0;

  beforeAll(async () => {
    plain = await PGlite.create({ debug: 0 });
    const raw = await PGlite.create({ debug: 0 });
    // Observe what reaches PGlite's own query once the kit's layer has run.
    const query = raw.query.bind(raw);
    raw.query = ((text: string, params?: unknown[], options?: QueryOptions) => {
      optionsSeen.push(options);
      return query(text, params, options);
    }) as PGlite['query'];
    const transaction = raw.transaction.bind(raw);
    raw.transaction = (callback) =>
      transaction((tx) => {
        const txQuery = tx.query.bind(tx);
        tx.query = ((text: string, params?: unknown[], options?: QueryOptions) => {
          optionsSeen.push(options);
          transactionQueries++;
          return txQuery(text, params, options);
        }) as typeof tx.query;
        return callback(tx);
      });
    tuned = installDrizzleParsers(raw);
    for (const client of [plain, tuned]) {
      await client.exec("SET TIME ZONE 'UTC'");
      await drizzle(client).execute(CREATE);
    }
  });
  afterAll(async () => {
    await plain.close();
    await tuned.close();
  });

  async function exercise(client: PGlite) {
    const db = drizzle(client);
    await db.insert(samples).values(ROW);
    const selected = await db.select().from(samples).where(eq(samples.id, 1));
    const prepared = await db
      .select()
      .from(samples)
      .where(eq(samples.id, sql.placeholder('id')))
      .prepare('sample_by_id')
      .execute({ id: 1 });
    const raw = await db.execute(sql`SELECT at, local, day, span, amount, amounts, moments, now() - at AS age FROM samples`);
    const inTransaction = await db.transaction(async (tx) => {
      await tx.update(samples).set({ name: 'renamed' }).where(eq(samples.id, 1));
      return tx.select().from(samples);
    });
    return { selected, prepared, raw: raw.rows.map(({ age: _age, ...rest }) => rest), inTransaction };
  }

  it('reads every type exactly as drizzle does on a plain PGlite, inside and outside transactions', async () => {
    const expected = await exercise(plain);
    const actual = await exercise(tuned);
    expect(actual).toEqual(expected);
    expect(actual.selected).toEqual([ROW]);
    expect(actual.inTransaction).toEqual([{ ...ROW, name: 'renamed' }]);
    // Raw execute keeps drizzle's raw text for timestamps, dates and intervals.
    expect(actual.raw[0]).toMatchObject({ at: '2026-11-26 03:04:05.678+00', day: '2026-02-03', span: '1 day 02:03:04' });
  });

  it('leaves the per-query parsers out of every query, so PGlite never copies its parser table', async () => {
    expect(optionsSeen.length).toBeGreaterThan(0);
    expect(transactionQueries).toBe(2);
    expect(optionsSeen.every((options) => options?.parsers === undefined)).toBe(true);
    // rowMode and the rest of drizzle's options still reach PGlite.
    expect(optionsSeen.some((options) => options?.rowMode === 'array')).toBe(true);
  });
});
