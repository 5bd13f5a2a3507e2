import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import {
  createLogger,
  openDatabase,
  rowsOf,
  type App,
  type DatabaseDriver,
  type DatabaseHandle,
} from '@shop/service-kit';
import { createTestDatabase, uniqueEmail, waitFor, type TestDatabase } from '@shop/service-kit/testing';
import { buildApp as buildAths, MIGRATIONS_FOLDER, MIGRATIONS_TABLE, type AthsApp, type BuildAppDeps } from '../../services/aths/src/app.ts';
import { loadAthsConfig } from '../../services/aths/src/config.ts';
import { buildApp as buildCrms } from '../../services/crms/src/app.ts';
import { loadCrmsConfig } from '../../services/crms/src/config.ts';
import { openCrmsDatabase } from '../../services/crms/src/database.ts';
import { FaultProxy } from './fault-proxy.ts';

export const ATHS_KEY = 'aths-internal-key-0123456789abcdef0123';
export const CRMS_KEY = 'crms-internal-key-0123456789abcdef0123';
export const PASSWORD = 'Secret123';

/** Short schedules so that outages of a second or two are enough to exercise retries. */
const FAST_PROVISIONING = {
  PROVISIONING_BACKOFF_BASE_MS: '50',
  PROVISIONING_BACKOFF_MAX_MS: '1000',
  PROVISIONING_POLL_INTERVAL_MS: '200',
  PROVISIONING_PROBE_INTERVAL_MS: '150',
  PROVISIONING_TIMEOUT_MS: '2000',
  PROVISIONING_LEASE_MS: '10000',
};
/** The environment of an ATHS child process on `databaseUrl` that provisions to CRMS at `crmsUrl`, on the short schedules. */
export function athsProcessEnv(databaseUrl: string | undefined, crmsUrl: string): Record<string, string | undefined> {
  return {
    DATABASE_URL: databaseUrl,
    SERVICE_API_KEYS: ATHS_KEY,
    CRMS_BASE_URL: crmsUrl,
    CRMS_SERVICE_API_KEY: CRMS_KEY,
    RATE_LIMIT_ENABLED: 'false',
    ...FAST_PROVISIONING,
  };
}

const FAST_STATUS_SYNC = {
  STATUS_SYNC_BACKOFF_BASE_MS: '50',
  STATUS_SYNC_BACKOFF_MAX_MS: '1000',
  STATUS_SYNC_POLL_INTERVAL_MS: '200',
  STATUS_SYNC_PROBE_INTERVAL_MS: '150',
  STATUS_SYNC_TIMEOUT_MS: '1000',
};

export interface CustomerRecord {
  customerId: string;
  userId: string;
  email: string;
  fullName: string;
  contactNumber: string;
  customerStatus: string;
}

async function json(response: Response) {
  const text = await response.text();
  return text ? (JSON.parse(text) as Record<string, any>) : {};
}

/** How many CRMS records each of these users has, read from a CRMS database (users without one are absent). */
export async function crmsRecordCounts(crmsDb: DatabaseHandle, userIds: string[]): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const rows = await rowsOf<{ user_id: string; n: number }>(
    crmsDb.db,
    sql`SELECT user_id, count(*)::int AS n FROM customers WHERE user_id IN (${sql.join(userIds.map((id) => sql`${id}`), sql`, `)}) GROUP BY user_id`,
  );
  return new Map(rows.map((row) => [row.user_id, Number(row.n)]));
}

/**
 * ATHS and CRMS in this process, each on its own database and a real port, ATHS reaching CRMS through a
 * fault-injecting proxy; CRMS reaches ATHS directly (JWKS, status changes).
 */
export class ProvisioningSystem {
  aths!: AthsApp;
  athsUrl!: string;
  crms!: App;
  crmsUrl!: string;
  proxy!: FaultProxy;
  athsDb!: DatabaseHandle;
  crmsDb!: DatabaseHandle;
  private athsPort = 0;
  athsTestDb!: TestDatabase;
  private crmsTestDb!: TestDatabase;
  private adminTokenValue: string | undefined;

  constructor(
    readonly driver: DatabaseDriver,
    private readonly athsEnv: Record<string, string> = {},
    private readonly crmsEnv: Record<string, string> = {},
  ) {}

  static async start(
    driver: DatabaseDriver,
    athsEnv: Record<string, string> = {},
    crmsEnv: Record<string, string> = {},
  ): Promise<ProvisioningSystem> {
    const system = new ProvisioningSystem(driver, athsEnv, crmsEnv);
    system.proxy = await FaultProxy.start();
    [system.athsTestDb, system.crmsTestDb] = await Promise.all([createTestDatabase(driver, 'prov_aths'), createTestDatabase(driver, 'prov_crms')]);
    const crmsConfig = system.crmsConfig('http://127.0.0.1:1');
    [system.athsDb, system.crmsDb] = await Promise.all([
      openDatabase({ url: system.athsTestDb.url, defaultDir: '', migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE }),
      openCrmsDatabase(crmsConfig),
    ]);
    await system.startAths();
    system.crms = await buildCrms(system.crmsConfig(system.athsUrl), {
      database: system.crmsDb,
      logger: createLogger({ service: 'crms', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false }),
    });
    const address = await system.crms.listen({ port: 0, host: '127.0.0.1' });
    system.crmsUrl = address;
    system.proxy.setTarget(system.crmsUrl);
    return system;
  }

  private crmsConfig(athsUrl: string) {
    return loadCrmsConfig(
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: this.crmsTestDb.url,
        DB_POOL_SIZE: '20',
        SERVICE_API_KEYS: CRMS_KEY,
        ATHS_BASE_URL: athsUrl,
        ATHS_SERVICE_API_KEY: ATHS_KEY,
        ...FAST_STATUS_SYNC,
        ...this.crmsEnv,
      },
      () => undefined,
    );
  }

  /** (Re)starts ATHS on its database and port, e.g. with another environment (an operator fixing a variable). */
  async startAths(env: Record<string, string> = {}, deps: BuildAppDeps = {}): Promise<void> {
    const config = loadAthsConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_ENABLED: 'false',
      SERVICE_API_KEYS: ATHS_KEY,
      CRMS_BASE_URL: this.proxy.url,
      CRMS_SERVICE_API_KEY: CRMS_KEY,
      ...FAST_PROVISIONING,
      ...this.athsEnv,
      ...env,
    });
    this.aths = await buildAths(config, {
      database: this.athsDb,
      logger: createLogger({ service: 'aths', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false }),
      ...deps,
    });
    await this.aths.listen({ port: this.athsPort, host: '127.0.0.1' });
    this.athsPort = (this.aths.server.address() as AddressInfo).port;
    this.athsUrl = `http://127.0.0.1:${this.athsPort}`;
    this.adminTokenValue = undefined;
  }

  async stopAths(): Promise<void> {
    await this.aths.close();
  }

  async close(): Promise<void> {
    await this.crms?.close();
    await this.aths?.close();
    await this.proxy?.close();
    await Promise.all([this.athsDb?.close(), this.crmsDb?.close()]);
    await Promise.all([this.athsTestDb?.drop(), this.crmsTestDb?.drop()]);
  }

  /** POST /api/auth/register over HTTP; returns the user id and how long the 201 took. */
  async register(overrides: Record<string, unknown> = {}) {
    const body = { email: uniqueEmail(), password: PASSWORD, fullName: 'Ada Lovelace', contactNumber: '+44 20 7946 0000', ...overrides };
    const started = performance.now();
    const response = await fetch(`${this.athsUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const ms = performance.now() - started;
    const payload = await json(response);
    if (response.status !== 201) throw new Error(`register: ${response.status} ${JSON.stringify(payload)}`);
    return { userId: payload.data.user._id as string, email: body.email, accessToken: payload.data.accessToken as string, ms, body };
  }

  async adminToken(): Promise<string> {
    if (this.adminTokenValue) return this.adminTokenValue;
    const email = uniqueEmail('admin');
    await this.aths.aths.registration.createUser(
      { email, password: PASSWORD, fullName: 'Grace Hopper', contactNumber: '0123456789', role: 'Administrator', emailVerified: true },
      { sendVerification: false },
    );
    const response = await fetch(`${this.athsUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    this.adminTokenValue = (await json(response)).data.accessToken as string;
    return this.adminTokenValue;
  }

  /** An ATHS request with the administrator's bearer token. */
  athsAdmin(method: string, path: string, body?: unknown) {
    return this.asAdmin(this.athsUrl, method, path, body);
  }

  /** A CRMS request with the (ATHS-issued) administrator's bearer token. */
  crmsAdmin(method: string, path: string, body?: unknown) {
    return this.asAdmin(this.crmsUrl, method, path, body);
  }

  private async asAdmin(baseUrl: string, method: string, path: string, body?: unknown) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.adminToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await json(response) };
  }

  /** GET {CRMS}/api/customers/internal/user/{userId}, directly (not through the proxy). */
  async customer(userId: string): Promise<CustomerRecord | null> {
    const response = await fetch(`${this.crmsUrl}/api/customers/internal/user/${userId}`, { headers: { 'x-api-key': CRMS_KEY } });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const payload = await json(response);
    if (response.status !== 200) throw new Error(`CRMS look-up: ${response.status} ${JSON.stringify(payload)}`);
    return payload.data as CustomerRecord;
  }

  async athsUser(userId: string): Promise<{ isActive: boolean; role: string; fullName: string }> {
    const response = await fetch(`${this.athsUrl}/api/internal/user/${userId}`, { headers: { 'x-service-api-key': ATHS_KEY } });
    return (await json(response)).data.user;
  }

  /** How many CRMS records each of these users has (straight from CRMS's database). */
  async recordCounts(userIds: string[]): Promise<Map<string, number>> {
    return crmsRecordCounts(this.crmsDb, userIds);
  }

  async waitForCustomers(userIds: string[], timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => (await this.recordCounts(userIds)).size === userIds.length, timeoutMs, `${userIds.length} CRMS records`);
  }

  async outboxRows(userId?: string) {
    return rowsOf<{ topic: string; key: string; state: string; attempts: number; last_status: number | null; last_error: string | null; result: unknown }>(
      this.athsDb.db,
      userId === undefined
        ? sql`SELECT topic, key, state, attempts, last_status, last_error, result FROM customer_outbox ORDER BY id`
        : sql`SELECT topic, key, state, attempts, last_status, last_error, result FROM customer_outbox WHERE key = ${userId} ORDER BY id`,
    );
  }

  async crmsMetrics(): Promise<string> {
    return (await fetch(`${this.crmsUrl}/metrics`)).text();
  }

  async athsMetrics(): Promise<string> {
    return (await fetch(`${this.athsUrl}/metrics`)).text();
  }
}

/** Value of one sample in Prometheus text output (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (!Object.entries(labels).every(([key, value]) => rest.includes(`${key}="${value}"`))) continue;
    return Number(line.split(' ').pop());
  }
  return 0;
}
