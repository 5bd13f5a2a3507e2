import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, mayHaveCommitted, openDatabase, rowsOf, type DatabaseHandle } from '../src/index.ts';
import { PostgresServer, privatePostgresUnavailable, waitFor } from '../src/testing/index.ts';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

const unavailable = privatePostgresUnavailable();
if (unavailable) console.warn(`database restart tests skipped: ${unavailable}`);

// The kit's PostgreSQL handle across a restart of a server of the test's own (never the shared one).
describe.skipIf(unavailable !== undefined)(`the kit database handle when PostgreSQL restarts${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let server: PostgresServer;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    server = await PostgresServer.start();
    handle = await openDatabase({
      url: server.url(),
      defaultDir: '/nonexistent',
      migrationsFolder,
      migrationsTable: 'kit_restart_migrations',
      connectTimeoutMs: 2_000,
      statementTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await handle?.close();
    await server?.destroy();
  });

  it('fails queries as "unavailable" while it is down, survives a transaction cut mid-way, and reconnects by itself', async () => {
    await handle.ping();
    // A transaction holding its pooled connection while the server goes: its client emits 'error', which must not
    // end the process (vitest reports an uncaught error), and its next statement fails as unavailable.
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const transaction = handle.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO widgets (name) VALUES ('in flight')`);
      inside();
      await paused;
      await tx.execute(sql`SELECT 1`);
    });
    const outcome = transaction.then(
      () => 'committed',
      (error: unknown) => error,
    );
    await entered;
    await server.stop('fast');
    resume();
    const failure = await outcome;
    expect(isDatabaseUnavailable(failure)).toBe(true);

    const down = await handle.ping().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isDatabaseUnavailable(down)).toBe(true);
    // Nothing was sent: the server was not there to receive it.
    expect(mayHaveCommitted(down)).toBe(false);

    await server.start();
    await waitFor(() => handle.ping().then(() => true, () => false), 10_000, 'the pool to reconnect');
    const rows = await rowsOf<{ n: number }>(handle.db, sql`SELECT count(*)::int AS n FROM widgets WHERE name = 'in flight'`);
    expect(rows[0]!.n).toBe(0);
  });

  it('takes a statement past statement_timeout as unavailable (a 503), never as a hang', async () => {
    const started = Date.now();
    const error = await handle.db.execute(sql`SELECT pg_sleep(5)`).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(mayHaveCommitted(error)).toBe(false);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('keeps LISTEN across a restart: LISTEN is issued again and the listener is told to look for missed work', async () => {
    const payloads: string[] = [];
    const unlisten = await handle.listen('kit_restart_channel', (payload) => payloads.push(payload));
    try {
      const notify = async (payload: string) => {
        const client = new pg.Client({ connectionString: server.url() });
        await client.connect();
        await client.query(`SELECT pg_notify('kit_restart_channel', $1)`, [payload]);
        await client.end();
      };
      await notify('before');
      await waitFor(() => payloads.includes('before'), 5_000, 'the first notification');

      await server.restart('fast');
      // The reconnection itself is reported as an empty notification (work may have been missed meanwhile).
      await waitFor(() => payloads.includes(''), 15_000, 'the LISTEN connection to come back');
      await notify('after');
      await waitFor(() => payloads.includes('after'), 5_000, 'a notification after the restart');
    } finally {
      await unlisten();
    }
  });
});
