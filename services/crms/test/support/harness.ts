import type { App, DatabaseHandle } from '@shop/service-kit';
import { createTestDatabase, type TestDatabase } from '@shop/service-kit/testing';
import type { DatabaseDriver } from '@shop/service-kit';
import { newObjectId } from '@shop/service-kit';
import { sql } from 'drizzle-orm';
import { buildApp, type CrmsDeps } from '../../src/app.ts';
import { loadCrmsConfig } from '../../src/config.ts';
import { openCrmsDatabase } from '../../src/database.ts';
import { startFakeAths, type FakeAths } from './fake-aths.ts';

export const API_KEY = 'crms-test-key-0123456789abcdef0123456789';
export const SECOND_API_KEY = 'crms-rotated-key-abcdef0123456789abcdef';
export const ADMIN_ID = 'a0000000000000000000000a';

export interface Harness {
  app: App;
  aths: FakeAths;
  database: DatabaseHandle;
  /** The test database's URL (`memory://` for PGlite). */
  url: string;
  /** Empties the CRMS tables (between tests that need a clean slate). */
  reset(): Promise<void>;
  close(): Promise<void>;
  adminToken(): Promise<string>;
  customerToken(userId: string, email?: string): Promise<string>;
}

/** One CRMS app on a fresh database (PGlite in memory, or a throw-away PostgreSQL database) and a fake ATHS. */
export async function startHarness(driver: DatabaseDriver, deps: Omit<CrmsDeps, 'database'> = {}): Promise<Harness> {
  const aths = await startFakeAths();
  // CRMS asks ATHS whether an administrator is still one (src/admin-account-check.ts): this one is.
  aths.addUser({ _id: ADMIN_ID, email: 'admin@example.com', fullName: 'Admin Istrator', contactNumber: '+1234567890', role: 'Administrator', isActive: true });
  const testDatabase: TestDatabase = await createTestDatabase(driver, 'crms');
  const config = loadCrmsConfig(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATABASE_URL: testDatabase.url,
      DB_POOL_SIZE: '20',
      SERVICE_API_KEYS: `${API_KEY}, ${SECOND_API_KEY}`,
      ATHS_BASE_URL: aths.url,
      ATHS_SERVICE_API_KEY: aths.apiKey,
    },
    () => undefined,
  );
  const database = await openCrmsDatabase(config);
  const app = await buildApp(config, { ...deps, database });
  return {
    app,
    aths,
    database,
    url: testDatabase.url,
    async reset() {
      await database.db.execute(sql`truncate table customer_status_changes, customers`);
    },
    async close() {
      await app.close();
      await database.close();
      await aths.stop();
      await testDatabase.drop();
    },
    adminToken: () => aths.token({ sub: ADMIN_ID, role: 'Administrator', email: 'admin@example.com' }),
    customerToken: (userId: string, email?: string) => aths.token({ sub: userId, role: 'Customer', email }),
  };
}

export const newUserId = () => newObjectId();

export function customerInput(overrides: Record<string, unknown> = {}) {
  return {
    userId: newObjectId(),
    email: 'customer@example.com',
    fullName: 'John Doe',
    contactNumber: '+1234567890',
    ...overrides,
  };
}

export function createCustomer(app: App, body: Record<string, unknown>, apiKey = API_KEY) {
  return app.inject({ method: 'POST', url: '/api/customers/internal/create', headers: { 'x-api-key': apiKey }, payload: body });
}
