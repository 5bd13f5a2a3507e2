import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { analyzeGrownTables } from '../src/db/pglite-analyze.ts';

const insert = (rows: number) => `INSERT INTO grows (v) SELECT repeat('x', 100) FROM generate_series(1, ${rows})`;

describe('analyzeGrownTables: the ANALYZE that PGlite, without autovacuum, never runs', () => {
  it('analyzes a table once it has grown by a fifth since its last ANALYZE, and only then', async () => {
    const client = await PGlite.create();
    try {
      await client.exec(`CREATE TABLE grows (id serial PRIMARY KEY, v text); CREATE TABLE "Quoted name" (id int)`);
      expect(await analyzeGrownTables(client)).toEqual([]);
      await client.exec(insert(5_000));
      await client.exec(`INSERT INTO "Quoted name" SELECT g FROM generate_series(1, 5000) g`);
      expect((await analyzeGrownTables(client)).sort()).toEqual(['public."Quoted name"', 'public.grows']);
      const { rows } = await client.query<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE relname = 'grows'`);
      expect(rows[0]!.reltuples).toBe(5_000);
      expect(await analyzeGrownTables(client)).toEqual([]);
      await client.exec(insert(500)); // +10 %
      expect(await analyzeGrownTables(client)).toEqual([]);
      await client.exec(insert(1_000)); // +30 % in all
      expect(await analyzeGrownTables(client)).toEqual(['public.grows']);
    } finally {
      await client.close();
    }
  });
});
