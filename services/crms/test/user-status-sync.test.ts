import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { createLogger, rowsOf, type DatabaseHandle } from '@shop/service-kit';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCrmsConfig } from '../src/config.ts';
import { openCrmsDatabase } from '../src/database.ts';
import { createAthsStatusClient } from '../src/user-status-sync/aths-status-client.ts';
import { createUserStatusSync, isActiveFor } from '../src/user-status-sync/index.ts';

const KEY = 'aths-key-for-crms-tests-0123456789abcdef';

describe.each(testDatabaseDrivers())('CRMS → ATHS user.status delivery on %s', (driver) => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  const received: Array<{ url: string; key: string | undefined; body: unknown }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ url: req.url!, key: req.headers['x-api-key'] as string | undefined, body: JSON.parse(body) });
      const missing = req.url!.includes('f'.repeat(24));
      res.writeHead(missing ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(missing ? { success: false, message: 'User not found' } : { success: true, data: { user: {} } }));
    });
  });
  const config = () =>
    loadCrmsConfig(
      {
        NODE_ENV: 'test',
        DATABASE_URL: testDb.url,
        SERVICE_API_KEYS: 'k',
        ATHS_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        ATHS_SERVICE_API_KEY: KEY,
        STATUS_SYNC_POLL_INTERVAL_MS: '50',
      },
      () => undefined,
    );

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    testDb = await createTestDatabase(driver, 'crms_status_sync');
    database = await openCrmsDatabase(config());
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
    server.close();
  });

  it('maps statuses (Suspended and Inactive deactivate) and PATCHes ATHS; an unknown user is dead-lettered', async () => {
    expect([isActiveFor('Active'), isActiveFor('Inactive'), isActiveFor('Suspended')]).toEqual([true, false, false]);
    const sync = createUserStatusSync({ config: config(), database, logger: createLogger({ service: 'crms', level: 'silent', pretty: false }), metrics: new Registry() });
    await sync.start();
    try {
      await database.db.transaction(async (tx) => {
        await sync.hooks.onCustomerStatusChanged(tx, { customerId: 'c'.repeat(24), userId: 'a'.repeat(24), status: 'Suspended' });
        await sync.hooks.onCustomerStatusChanged(tx, { customerId: 'c'.repeat(24), userId: 'a'.repeat(24), status: 'Active' });
        await sync.hooks.onCustomerStatusChanged(tx, { customerId: 'd'.repeat(24), userId: 'f'.repeat(24), status: 'Inactive' });
      });
      sync.hooks.afterCommit();
      const states = () => rowsOf<{ key: string; state: string; last_status: number }>(database.db, sql`SELECT key, state, last_status FROM user_status_outbox ORDER BY id`);
      for (let i = 0; i < 200 && (await states()).some((row) => row.state === 'pending'); i++) await new Promise((r) => setTimeout(r, 25));
      expect((await states()).map((row) => [row.state, row.last_status])).toEqual([
        ['delivered', 200],
        ['delivered', 200],
        ['dead', 404],
      ]);
      const forUser = received.filter((entry) => entry.url === `/api/internal/user/${'a'.repeat(24)}/status`);
      expect(forUser.map((entry) => entry.body)).toEqual([{ isActive: false }, { isActive: true }]);
      expect(forUser[0]!.key).toBe(KEY);
    } finally {
      await sync.stop();
    }
  });

  it('can be left to other instances (STATUS_SYNC_ENABLED=false): queues, does not deliver', async () => {
    const warnings: string[] = [];
    const logger = createLogger({ service: 'crms', level: 'silent', pretty: false });
    logger.warn = ((text: string) => void warnings.push(text));
    const sync = createUserStatusSync({ config: { ...config(), STATUS_SYNC_ENABLED: false }, database, logger, metrics: new Registry() });
    await sync.start();
    expect(sync.deliver).toBe(false);
    expect(warnings[0]).toContain('STATUS_SYNC_ENABLED is off');
    await sync.stop();
  });
});

describe('ATHS status client', () => {
  it('defaults to a 5 s deadline and keeps the base URL', async () => {
    const client = createAthsStatusClient({ baseUrl: 'http://127.0.0.1:1/prefix/', apiKey: KEY });
    expect(client.baseUrl).toBe('http://127.0.0.1:1/prefix');
    await expect(client.setUserActive('a'.repeat(24), true)).rejects.toThrow(/127\.0\.0\.1:1\/prefix\/api\/internal\/user/);
    await client.close();
  });
});
