import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createLogger, openDatabase, rowsOf, type App, type DatabaseHandle } from '@shop/service-kit';
import { createTestDatabase, freePort, ServiceProcess, testDatabaseDrivers, uniqueEmail, waitFor, type TestDatabase } from '@shop/service-kit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp as buildCrms } from '../../services/crms/src/app.ts';
import { loadCrmsConfig } from '../../services/crms/src/config.ts';
import { MIGRATIONS_FOLDER as CRMS_MIGRATIONS_FOLDER, MIGRATIONS_TABLE as CRMS_MIGRATIONS_TABLE, openCrmsDatabase } from '../../services/crms/src/database.ts';
import { ATHS_ENTRY, CRMS_ENTRY } from '../support/cluster.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { ATHS_KEY, athsProcessEnv, CRMS_KEY, crmsRecordCounts, metricValue, PASSWORD } from '../support/system.ts';

async function register(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('p'), password: PASSWORD, fullName: 'Process Customer', contactNumber: '0123456789' }),
  });
  const body = (await response.json()) as { data: { user: { _id: string } } };
  if (response.status !== 201) throw new Error(`register: ${response.status} ${JSON.stringify(body)}`);
  return body.data.user._id;
}

describe.each(testDatabaseDrivers())('ATHS killed with SIGKILL right after committing registrations, on %s', (driver) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('delivers every registration after the restart', { timeout: 120_000 }, async () => {
    const proxy = await FaultProxy.start();
    cleanups.push(() => proxy.close());
    const crmsDb: TestDatabase = await createTestDatabase(driver, 'kill_crms');
    cleanups.push(() => crmsDb.drop());
    let athsDb: TestDatabase | undefined;
    let dataDir: string | undefined;
    if (driver === 'postgres') {
      athsDb = await createTestDatabase(driver, 'kill_aths');
      cleanups.push(() => athsDb!.drop());
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'aths-kill-'));
      cleanups.push(() => rmSync(dataDir!, { recursive: true, force: true }));
    }
    const athsPort = await freePort();
    const athsUrl = `http://127.0.0.1:${athsPort}`;
    const crmsConfig = loadCrmsConfig(
      { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: crmsDb.url, SERVICE_API_KEYS: CRMS_KEY, ATHS_BASE_URL: athsUrl, ATHS_SERVICE_API_KEY: ATHS_KEY },
      () => undefined,
    );
    const crmsDatabase = await openCrmsDatabase(crmsConfig);
    const crms: App = await buildCrms(crmsConfig, { database: crmsDatabase, logger: createLogger({ service: 'crms', level: 'silent', pretty: false }) });
    cleanups.push(async () => {
      await crms.close();
      await crmsDatabase.close();
    });
    proxy.setTarget(await crms.listen({ port: 0, host: '127.0.0.1' }));

    const aths = await ServiceProcess.start({
      entry: ATHS_ENTRY,
      port: athsPort,
      env: athsProcessEnv(athsDb?.url ?? dataDir, proxy.url),
      startTimeoutMs: 60_000,
    });
    cleanups.push(() => aths.kill());

    // CRMS unreachable: every intent stays in ATHS's outbox; then the process dies without any shutdown.
    await proxy.set({ kind: 'down' });
    const ids = await Promise.all(Array.from({ length: 20 }, () => register(aths.url)));
    await aths.kill();
    expect(aths.running).toBe(false);

    await proxy.set({ kind: 'pass' });
    await aths.start();
    await waitFor(async () => (await crmsRecordCounts(crmsDatabase, ids)).size === 20, 20_000, 'all 20 records after restart');
    expect([...(await crmsRecordCounts(crmsDatabase, ids)).values()].every((n) => n === 1)).toBe(true);
  });
});

describe.runIf(testDatabaseDrivers().includes('postgres'))('two ATHS and two CRMS processes on one PostgreSQL database', () => {
  const processes: ServiceProcess[] = [];
  let testDb: TestDatabase | undefined;
  let db: DatabaseHandle | undefined;
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.close();
    await testDb?.drop();
  });

  it('provisions every customer exactly once under concurrent registrations, with structured attempt logs and no secrets', { timeout: 120_000 }, async () => {
    testDb = await createTestDatabase('postgres', 'two_by_two');
    const [athsPort1, athsPort2, crmsPort1, crmsPort2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const crmsEnv = (port: number) => ({
      DATABASE_URL: testDb!.url,
      SERVICE_API_KEYS: CRMS_KEY,
      ATHS_BASE_URL: `http://127.0.0.1:${athsPort1}`,
      ATHS_SERVICE_API_KEY: ATHS_KEY,
      PORT: String(port),
    });
    const athsEnv = (crmsPort: number) => ({
      ...athsProcessEnv(testDb!.url, `http://127.0.0.1:${crmsPort}`),
      LOG_LEVEL: 'info',
      // The production deadline: "delivered once" must not depend on how loaded the test machine is.
      PROVISIONING_TIMEOUT_MS: '5000',
    });
    const started = await Promise.all([
      ServiceProcess.start({ entry: CRMS_ENTRY, port: crmsPort1, env: crmsEnv(crmsPort1), startTimeoutMs: 60_000 }),
      ServiceProcess.start({ entry: CRMS_ENTRY, port: crmsPort2, env: crmsEnv(crmsPort2), startTimeoutMs: 60_000 }),
      ServiceProcess.start({ entry: ATHS_ENTRY, port: athsPort1, env: athsEnv(crmsPort1), startTimeoutMs: 60_000 }),
      ServiceProcess.start({ entry: ATHS_ENTRY, port: athsPort2, env: athsEnv(crmsPort2), startTimeoutMs: 60_000 }),
    ]);
    processes.push(...started);
    const [crms1, crms2, aths1, aths2] = started;

    const ids: string[] = [];
    for (let round = 0; round < 8; round++) {
      ids.push(...(await Promise.all(Array.from({ length: 16 }, (_, i) => register(i % 2 === 0 ? aths1.url : aths2.url)))));
    }
    // Already migrated by the CRMS processes: opening with CRMS's journal runs nothing.
    db = await openDatabase({ url: testDb.url, defaultDir: '', migrationsFolder: CRMS_MIGRATIONS_FOLDER, migrationsTable: CRMS_MIGRATIONS_TABLE });
    await waitFor(async () => (await crmsRecordCounts(db!, ids)).size === ids.length, 20_000, 'every record');
    expect([...(await crmsRecordCounts(db, ids)).values()].every((n) => n === 1)).toBe(true);

    // Every message was delivered by exactly one instance, once: no CRMS create ever found an existing record.
    // ATHS marks a row delivered after CRMS's answer arrives, so the last rows may trail the records by a moment.
    const outboxRows = () => rowsOf<{ state: string; attempts: number }>(db!.db, sql`SELECT state, attempts FROM customer_outbox`);
    await waitFor(async () => (await outboxRows()).every((row) => row.state === 'delivered'), 10_000, 'every outbox row delivered');
    const outbox = await outboxRows();
    expect(outbox).toHaveLength(ids.length);
    expect(outbox.filter((row) => row.attempts !== 1)).toEqual([]);
    const metrics = await Promise.all([crms1, crms2].map(async (p) => (await fetch(`${p.url}/metrics`)).text()));
    const created = metrics.reduce((sum, text) => sum + metricValue(text, 'crms_customer_creates_total', { outcome: 'created' }), 0);
    const existing = metrics.reduce((sum, text) => sum + metricValue(text, 'crms_customer_creates_total', { outcome: 'existing' }), 0);
    expect(created).toBe(ids.length);
    expect(existing).toBe(0);
    // Both ATHS instances delivered part of the work.
    const athsMetrics = await Promise.all([aths1, aths2].map(async (p) => (await fetch(`${p.url}/metrics`)).text()));
    for (const text of athsMetrics) {
      expect(metricValue(text, 'crms_provisioning_attempts_total', { topic: 'customer.create', outcome: 'delivered' })).toBeGreaterThan(0);
    }

    const lines = aths1.logs().split('\n').filter((line) => line.includes('"outbox delivery attempt"'));
    expect(lines.length).toBeGreaterThan(0);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ service: 'aths', operation: 'customer.create', attempt: 1, outcome: 'delivered', status: 200 });
    expect(ids).toContain(entry.userId);
    expect(entry.customerId).toMatch(/^[0-9a-f]{24}$/);
    expect(typeof entry.duration).toBe('number');
    for (const p of started) {
      expect(p.logs()).not.toContain(CRMS_KEY);
      expect(p.logs()).not.toContain(ATHS_KEY);
      expect(p.logs()).not.toContain(PASSWORD);
    }
  });
});
