import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf } from '../src/index.ts';
import { initPgliteDirectory } from '../src/db/pglite-instances.ts';

const widgets = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));
const outbox = fileURLToPath(new URL('./fixtures/outbox/migrations', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'kit-pglite-'));

const open = (dir: string, migrationsFolder: string, migrationsTable: string) =>
  openDatabase({ url: dir, defaultDir: '/nonexistent', migrationsFolder, migrationsTable });

describe('PGlite directories (one instance per directory per process, initdb in a child process)', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('shares one instance between two services on one directory, each with its own migrations, until both close', async () => {
    const dir = join(scratch, 'shared');
    const [first, second] = await Promise.all([open(dir, widgets, 'first_migrations'), open(dir, outbox, 'second_migrations')]);
    // A new directory's cluster was made by the child process and renamed into place: nothing else beside it.
    expect(readdirSync(scratch)).toEqual(['shared']);
    await first.db.execute(sql`INSERT INTO widgets (name) VALUES ('seen by both')`);
    const seen = await rowsOf<{ name: string }>(second.db, sql`SELECT name FROM widgets`);
    expect(seen.map((row) => row.name)).toEqual(['seen by both']);
    const journals = await rowsOf<{ table_name: string }>(
      second.db,
      sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'drizzle' ORDER BY table_name`,
    );
    expect(journals.map((row) => row.table_name)).toEqual(['first_migrations', 'second_migrations']);

    // One service closing leaves the other's database open; the last one closes the instance.
    await first.close();
    await second.ping();
    await second.close();
    await expect(second.ping()).rejects.toThrow();

    const reopened = await open(dir, widgets, 'first_migrations');
    const rows = await rowsOf<{ n: number }>(reopened.db, sql`SELECT count(*)::int AS n FROM widgets`);
    expect(rows[0]!.n).toBe(1);
    await reopened.close();
  }, 180_000);

  it('refuses a directory that holds something other than a cluster, and keeps an existing cluster as it is', async () => {
    const other = join(scratch, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'not a database');
    await expect(initPgliteDirectory(other)).rejects.toThrow(/neither empty nor a PGlite data directory/);
    expect(readdirSync(other)).toEqual(['notes.txt']);
    await initPgliteDirectory(join(scratch, 'shared'));
    expect(existsSync(join(scratch, 'shared', 'PG_VERSION'))).toBe(true);
  });
});
