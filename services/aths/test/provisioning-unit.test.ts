import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import {
  createLogger,
  openDatabase,
  rowsOf,
  ServiceUnavailableError,
  type DatabaseHandle,
  type OutboxMessage,
  type ServiceResponse,
} from '@shop/service-kit';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '@shop/service-kit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER, MIGRATIONS_TABLE } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { createCrmsClient, type CrmsClient, type CrmsCustomerBody } from '../src/customer-provisioning/crms-client.ts';
import { provisioningHandlers, TOPICS } from '../src/customer-provisioning/handlers.ts';
import { provisioningHooks } from '../src/customer-provisioning/hooks.ts';
import { createCustomerProvisioning } from '../src/customer-provisioning/index.ts';
import type { UserRecord } from '../src/users/lifecycle-hooks.ts';

const KEY = 'crms-key-for-unit-tests-0123456789abcdef';
const profile = { userId: 'a'.repeat(24), email: 'ada@example.com', fullName: 'Ada Lovelace', contactNumber: '0123456789' };
const message = (topic: string, payload: unknown): OutboxMessage => ({ id: '1', topic, key: profile.userId, payload, attempt: 1, createdAt: new Date() });

/** A CRMS stand-in answering scripted responses, recording what it was sent. */
function stubClient(answers: Array<ServiceResponse<CrmsCustomerBody | string> | Error>) {
  const calls: Array<{ op: string; userId: string; body: unknown }> = [];
  const next = async () => {
    const answer = answers.shift();
    if (!answer) throw new Error('no scripted answer');
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const client = {
    baseUrl: 'http://crms',
    createCustomer: async (body: unknown) => {
      calls.push({ op: 'create', userId: (body as { userId: string }).userId, body });
      return next();
    },
    updateCustomer: async (userId: string, body: unknown) => {
      calls.push({ op: 'update', userId, body });
      return next();
    },
    close: async () => undefined,
  } as unknown as CrmsClient;
  return { client, calls };
}

const record = (customerId = 'c'.repeat(24)) => ({ status: 200, body: { success: true, data: { customerId } } });

describe('CRMS client', () => {
  it('POSTs exactly the integration guide\'s fields and PATCHes by userId, with x-api-key, over a keep-alive pool', async () => {
    const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true, data: { customerId: 'c1' } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createCrmsClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, apiKey: KEY });
    try {
      const created = await client.createCustomer({ ...profile, extra: 'ignored' } as never);
      expect(created).toEqual({ status: 200, body: { success: true, data: { customerId: 'c1' } } });
      await client.updateCustomer(profile.userId, { customerStatus: 'Inactive' });
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/customers/internal/create' });
      expect(JSON.parse(seen[0]!.body)).toEqual(profile);
      expect(seen[0]!.headers['x-api-key']).toBe(KEY);
      expect(seen[0]!.headers.connection).not.toBe('close');
      expect(seen[1]).toMatchObject({ method: 'PATCH', url: `/api/customers/internal/user/${profile.userId}`, body: '{"customerStatus":"Inactive"}' });
      expect(client.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await client.close();
      server.close();
    }
  });

  it('uses https for an https base URL and reports no answer as ServiceUnavailableError', async () => {
    const client = createCrmsClient({ baseUrl: 'https://127.0.0.1:1', apiKey: KEY, timeoutMs: 500, connections: 1 });
    expect(client.baseUrl).toBe('https://127.0.0.1:1');
    await expect(client.createCustomer(profile)).rejects.toBeInstanceOf(ServiceUnavailableError);
    await client.close();
  });
});

describe('provisioning handlers', () => {
  it('customer.create: delivered with the customerId; 5xx retried; other 4xx dead', async () => {
    const { client, calls } = stubClient([
      record('c1'),
      { status: 200, body: { success: true } },
      { status: 503, body: 'busy' },
      { status: 400, body: { success: false, message: 'Validation failed' } },
    ]);
    const handle = provisioningHandlers(client)[TOPICS.create]!;
    expect(await handle(message(TOPICS.create, profile))).toEqual({
      outcome: 'delivered', status: 200, result: { customerId: 'c1' }, logFields: { customerId: 'c1' },
    });
    expect(await handle(message(TOPICS.create, profile))).toEqual({ outcome: 'delivered', status: 200, result: null, logFields: {} });
    expect(await handle(message(TOPICS.create, profile))).toMatchObject({ outcome: 'retry', status: 503 });
    expect(await handle(message(TOPICS.create, profile))).toMatchObject({ outcome: 'dead', status: 400 });
    expect(calls.map((call) => call.op)).toEqual(['create', 'create', 'create', 'create']);
  });

  it('customer.update sends the profile; on 404 it creates the record first, then patches', async () => {
    const { client, calls } = stubClient([record(), { status: 404, body: {} }, record('c2'), record('c2')]);
    const handle = provisioningHandlers(client)[TOPICS.update]!;
    expect(await handle(message(TOPICS.update, profile))).toMatchObject({ outcome: 'delivered' });
    expect(calls[0]).toEqual({ op: 'update', userId: profile.userId, body: { email: profile.email, fullName: profile.fullName, contactNumber: profile.contactNumber } });
    expect(await handle(message(TOPICS.update, profile))).toMatchObject({ outcome: 'delivered', logFields: { customerId: 'c2', createdFirst: true } });
    expect(calls.slice(1).map((call) => call.op)).toEqual(['update', 'create', 'update']);
  });

  it('customer.status patches customerStatus; a failed self-healing create or second patch is reported as such', async () => {
    const payload = { ...profile, customerStatus: 'Inactive' };
    const { client, calls } = stubClient([
      { status: 404, body: {} },
      { status: 401, body: { message: 'Invalid or missing service API key' } },
      { status: 404, body: {} },
      record(),
      { status: 500, body: 'oops' },
      new ServiceUnavailableError('PATCH x: no answer within 5000 ms', true),
    ]);
    const handle = provisioningHandlers(client)[TOPICS.status]!;
    expect(await handle(message(TOPICS.status, payload))).toMatchObject({ outcome: 'dead', status: 401 });
    expect(calls[0]).toEqual({ op: 'update', userId: profile.userId, body: { customerStatus: 'Inactive' } });
    expect(await handle(message(TOPICS.status, payload))).toMatchObject({ outcome: 'retry', status: 500 });
    await expect(handle(message(TOPICS.status, payload))).rejects.toBeInstanceOf(ServiceUnavailableError);
  });
});

describe.each(testDatabaseDrivers())('provisioning hooks and wiring on %s', (driver) => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  let nudges = 0;
  const hooks = provisioningHooks(() => (nudges += 1));
  const user = (overrides: Partial<UserRecord> = {}): UserRecord => ({
    id: 'b'.repeat(24),
    email: 'grace@example.com',
    fullName: 'Grace Hopper',
    contactNumber: '0123456789',
    address: {},
    role: 'Customer',
    isActive: true,
    emailVerified: false,
    lastLoginAt: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...overrides,
  });
  const rows = () =>
    rowsOf<{ topic: string; payload: Record<string, unknown> }>(database.db, sql`SELECT topic, payload FROM customer_outbox ORDER BY id`);

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, 'aths_prov_unit');
    database = await openDatabase({ url: testDb.url, defaultDir: '', migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE });
  });
  beforeEach(async () => {
    await database.db.execute(sql`TRUNCATE customer_outbox`);
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  it('writes the intents each lifecycle event calls for, Customers only', async () => {
    await database.db.transaction(async (tx) => {
      await hooks.onUserCreated(tx, user({ role: 'Administrator' }));
      await hooks.onUserCreated(tx, user({ isActive: false }));
      await hooks.onUserUpdated(tx, user(), ['address']);
      await hooks.onUserUpdated(tx, user({ role: 'Administrator' }), ['fullName']);
      await hooks.onUserUpdated(tx, user(), ['fullName']);
      await hooks.onUserUpdated(tx, user({ isActive: false }), ['role']);
      await hooks.onUserUpdated(tx, user({ role: 'Administrator' }), ['role']);
      await hooks.onUserActiveChanged(tx, user({ isActive: false }), 'internal');
      await hooks.onUserActiveChanged(tx, user({ role: 'Administrator', isActive: false }), 'admin');
      await hooks.onUserActiveChanged(tx, user({ isActive: false }), 'admin');
      await hooks.onUserDeleted(tx, user({ role: 'Administrator' }));
      await hooks.onUserDeleted(tx, user());
    });
    hooks.afterCommit();
    expect(nudges).toBe(1);
    expect((await rows()).map((row) => [row.topic, row.payload.customerStatus ?? null])).toEqual([
      ['customer.create', null],
      ['customer.status', 'Inactive'], // created inactive
      ['customer.update', null], // fullName
      ['customer.create', null], // became a Customer (inactive account)
      ['customer.status', 'Inactive'],
      ['customer.status', 'Inactive'], // no longer a Customer
      ['customer.status', 'Inactive'], // deactivated by an administrator
      ['customer.status', 'Inactive'], // deleted
    ]);
    expect((await rows())[0]!.payload).toEqual({ userId: 'b'.repeat(24), email: 'grace@example.com', fullName: 'Grace Hopper', contactNumber: '0123456789' });
  });

  it('does not deliver without CRMS_BASE_URL or with PROVISIONING_ENABLED=false, but still queues and reports', async () => {
    const logs: string[] = [];
    const logger = createLogger({ service: 'aths', level: 'warn', pretty: false });
    const capture = logger.child({});
    capture.warn = ((text: string) => void logs.push(text));
    for (const env of [{}, { CRMS_BASE_URL: 'http://127.0.0.1:1', PROVISIONING_ENABLED: 'false' }]) {
      const config = loadAthsConfig({ NODE_ENV: 'test', SERVICE_API_KEYS: 'k', ...env });
      const provisioning = createCustomerProvisioning({ config, database, logger: capture, metrics: new Registry() });
      await provisioning.start();
      expect(provisioning.deliver).toBe(false);
      const status = await provisioning.status();
      expect(status.delivery).toEqual({ enabled: false, crmsBaseUrl: null, targetFailing: false });
      await provisioning.stop();
    }
    expect(logs[0]).toContain('CRMS_BASE_URL is not set');
    expect(logs[1]).toContain('PROVISIONING_ENABLED is off');
    // Delivering without a key: warned (CRMS will answer 401).
    const config = loadAthsConfig({ NODE_ENV: 'test', SERVICE_API_KEYS: 'k', CRMS_BASE_URL: 'http://127.0.0.1:1' });
    const provisioning = createCustomerProvisioning({ config, database, logger: capture, metrics: new Registry() }, { settings: { pollIntervalMs: 60_000 } });
    await provisioning.start();
    expect(logs[2]).toContain('CRMS_SERVICE_API_KEY is not set');
    await provisioning.stop();
  });
});
