import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { createLogger, openDatabase, rowsOf, type DatabaseHandle } from '@shop/service-kit';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, MIGRATIONS_FOLDER, MIGRATIONS_TABLE, type AthsApp } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { API_KEY, PASSWORD } from './helpers.ts';

/**
 * A TCP proxy in front of PostgreSQL that cuts one connection at a chosen moment of the statement whose text it is
 * armed with: `before` (the statement never reaches the server) or `after-commit` (the server ran and committed it,
 * and the connection dies before the client hears so: the ambiguity a database restart can create).
 */
class CuttingProxy {
  private armed: { text: string; when: 'before' | 'after-commit' } | undefined;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    const server = createServer((client) => proxy.relay(client, connect(target.port, target.host)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new CuttingProxy(server, (server.address() as AddressInfo).port);
    return proxy;
  }

  arm(text: string, when: 'before' | 'after-commit'): void {
    this.armed = { text, when };
  }

  get fired(): boolean {
    return this.armed === undefined;
  }

  private relay(client: Socket, upstream: Socket): void {
    let marked = false;
    let pending = Buffer.alloc(0);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('data', (chunk: Buffer) => {
      if (this.armed && chunk.includes(this.armed.text)) {
        const { when } = this.armed;
        this.armed = undefined;
        if (when === 'before') return cut();
        marked = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (marked) {
        // Server messages are a type byte and a length; ReadyForQuery ('Z') follows the Sync that committed.
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
          if (pending[0] === 0x5a) return cut();
          pending = pending.subarray(1 + pending.readInt32BE(1));
        }
      }
      client.write(chunk);
    });
  }

  async close(): Promise<void> {
    this.server.close();
  }
}

describe.runIf(testDatabaseDrivers().includes('postgres'))('a registration whose database connection is lost mid-write', () => {
  let testDb: TestDatabase;
  let proxy: CuttingProxy;
  const opened: Array<{ app: AthsApp; database: DatabaseHandle }> = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('postgres', 'lost_commit');
    const target = new URL(testDb.url);
    proxy = await CuttingProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  });
  afterAll(async () => {
    for (const { app, database } of opened) {
      await app.close();
      await database.close();
    }
    await proxy?.close();
    await testDb?.drop();
  });

  /** ATHS on a fresh pool through the proxy (registration is one transaction: its user insert, then its COMMIT). */
  async function athsThroughProxy(): Promise<AthsApp> {
    const url = new URL(testDb.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const database = await openDatabase({ url: url.toString(), defaultDir: '', migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE });
    const config = loadAthsConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: API_KEY, RATE_LIMIT_ENABLED: 'false', DB_CONNECT_TIMEOUT_MS: '2000' });
    const app = await buildApp(config, { database, logger: createLogger({ service: 'aths', level: 'silent', pretty: false }) });
    opened.push({ app, database });
    return app;
  }

  const register = (app: AthsApp, email: string) =>
    app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: PASSWORD, fullName: 'Lost Commit', contactNumber: '0123456789' } });

  async function stored(app: AthsApp, email: string) {
    const users = await rowsOf<{ id: string }>(app.aths.db, sql`SELECT id FROM users WHERE email = ${email}`);
    const outbox = await rowsOf<{ key: string }>(app.aths.db, sql`SELECT key FROM customer_outbox WHERE key = ${users[0]?.id ?? ''}`);
    return { users: users.length, outbox: outbox.length };
  }

  it('answers 201 when the write committed before the connection died (a 503 would hide the account)', async () => {
    const app = await athsThroughProxy();
    // The transaction's COMMIT: a NUL-terminated query text (the e-mail in the insert's parameters holds "commit" too;
    // the migrations' own commit is lower-case).
    proxy.arm('COMMIT\0', 'after-commit');
    const response = await register(app, 'committed@example.com');
    expect(proxy.fired).toBe(true);
    expect(response.statusCode).toBe(201);
    expect(response.json().data.user.email).toBe('committed@example.com');
    // Exactly the one account and its one provisioning intent; the client's retry is told the e-mail is taken.
    expect(await stored(app, 'committed@example.com')).toEqual({ users: 1, outbox: 1 });
    expect((await register(app, 'committed@example.com')).statusCode).toBe(409);
  });

  it('answers 503 in the envelope when the write never reached the database, and a retry then registers', async () => {
    const app = await athsThroughProxy();
    proxy.arm('INSERT INTO users (', 'before');
    const response = await register(app, 'not-committed@example.com');
    expect(proxy.fired).toBe(true);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ success: false, message: 'Database unavailable', errors: [{ field: 'database' }] });
    expect(await stored(app, 'not-committed@example.com')).toEqual({ users: 0, outbox: 0 });
    expect((await register(app, 'not-committed@example.com')).statusCode).toBe(201);
  });
});
