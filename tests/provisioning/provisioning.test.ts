import { sql } from 'drizzle-orm';
import { newObjectId, rowsOf } from '@shop/service-kit';
import { sleep, testDatabaseDrivers, waitFor } from '@shop/service-kit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../services/aths/src/cli.ts';
import { ATHS_KEY, CRMS_KEY, metricValue, PASSWORD, ProvisioningSystem } from '../support/system.ts';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function inBatches<T>(count: number, parallel: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += parallel) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(parallel, count - start) }, (_, i) => work(start + i)))));
  }
  return results;
}

describe.each(testDatabaseDrivers())('ATHS → CRMS provisioning and CRMS → ATHS status, through HTTP, on %s', (driver) => {
  let system: ProvisioningSystem;

  beforeAll(async () => {
    // A long backoff cap: only prompt resumption explains a backlog arriving within a second of CRMS's return.
    system = await ProvisioningSystem.start(driver, { PROVISIONING_BACKOFF_MAX_MS: '30000' });
  });
  afterAll(async () => {
    await system?.close();
  });
  beforeEach(async () => {
    await system.proxy.set({ kind: 'pass' });
  });

  it('creates a CRMS record with the integration guide\'s fields for every registered Customer, within milliseconds, and none for Administrators', async () => {
    const users = await Promise.all(
      Array.from({ length: 5 }, (_, i) => system.register({ email: `Mixed.Case.${i}.${Date.now()}@Example.com`, fullName: `Customer ${i}` })),
    );
    await system.waitForCustomers(users.map((user) => user.userId), 10_000);
    for (const [i, user] of users.entries()) {
      const record = await system.customer(user.userId);
      expect(record).toMatchObject({
        userId: user.userId,
        email: user.email.toLowerCase(),
        fullName: `Customer ${i}`,
        contactNumber: '+44 20 7946 0000',
        customerStatus: 'Active',
      });
      // ATHS marks the row delivered after CRMS's answer, so the mark may trail the record on a loaded machine.
      await waitFor(async () => (await system.outboxRows(user.userId))[0]?.state === 'delivered', 10_000, 'the row marked delivered');
      const [row] = await system.outboxRows(user.userId);
      // Normally the first attempt; a loaded machine can let one pass its deadline (a retry, still one record).
      expect(row).toMatchObject({ topic: 'customer.create', state: 'delivered', last_status: 200, result: { customerId: record!.customerId } });
      expect(row!.attempts).toBeGreaterThanOrEqual(1);
    }

    // Administrators (created by an administrator) get no record; Customers created that way do.
    const admin = await system.athsAdmin('POST', '/api/admin/users', {
      email: `staff.${Date.now()}@example.com`, password: PASSWORD, fullName: 'Staff Member', contactNumber: '0123456789', role: 'Administrator',
    });
    const customer = await system.athsAdmin('POST', '/api/admin/users', {
      email: `made.${Date.now()}@example.com`, password: PASSWORD, fullName: 'Made By Admin', contactNumber: '0123456789', role: 'Customer',
    });
    expect([admin.status, customer.status]).toEqual([201, 201]);
    await system.waitForCustomers([customer.body.data.user._id], 10_000);
    await sleep(200);
    expect(await system.customer(admin.body.data.user._id)).toBeNull();
    expect(await system.outboxRows(admin.body.data.user._id)).toHaveLength(0);

    // Sync lag: 201 → record readable in CRMS.
    const lags: number[] = [];
    for (let i = 0; i < 15; i++) {
      const { userId } = await system.register();
      const answered = performance.now();
      await waitFor(async () => (await system.customer(userId)) !== null, 10_000, 'record');
      lags.push(performance.now() - answered);
    }
    expect(median(lags)).toBeLessThan(250);

    const sync = await system.athsAdmin('GET', '/api/admin/customer-sync');
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({ success: true, message: 'Customer sync status retrieved successfully' });
    expect(sync.body.data).toMatchObject({
      counts: { pending: 0, dead: 0 },
      oldestPendingAgeSeconds: 0,
      oldestPendingCreatedAt: null,
      delivery: { enabled: true, crmsBaseUrl: system.proxy.url, targetFailing: false },
      deadLetters: [],
    });
    expect(sync.body.data.customers.registered).toBe(sync.body.data.customers.provisioned);
    const metrics = await system.athsMetrics();
    expect(metricValue(metrics, 'crms_provisioning_attempts_total', { topic: 'customer.create', outcome: 'delivered' })).toBeGreaterThanOrEqual(21);
    expect(metricValue(metrics, 'aths_customer_users')).toBe(metricValue(metrics, 'aths_customer_users_provisioned'));
    expect(metricValue(metrics, 'crms_provisioning_pending')).toBe(0);
    expect(metrics).toContain('crms_provisioning_call_duration_seconds_bucket');
    expect(metrics).toContain('crms_provisioning_oldest_pending_age_seconds');
  });

  it('CRMS down: registrations answer 201 at normal speed, and every one reaches CRMS, once, promptly after it returns', async () => {
    const up = await inBatches(12, 3, () => system.register());
    await system.waitForCustomers(up.map((r) => r.userId), 10_000);
    const pendingNow = async () => (await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data.counts.pending as number;
    await waitFor(async () => (await pendingNow()) === 0, 10_000, 'nothing pending before the outage');
    await system.proxy.set({ kind: 'down' });
    const down = await inBatches(30, 3, () => system.register());
    // Registration never waits on CRMS.
    expect(median(down.map((r) => r.ms))).toBeLessThan(median(up.map((r) => r.ms)) * 2 + 50); // loose: CI noise; bench/ measures the 10 %
    const ids = down.map((r) => r.userId);
    await waitFor(async () => (await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data.delivery.targetFailing === true, 10_000, 'CRMS seen as down');
    // Keep CRMS away long enough for the backoff to grow past a second.
    await sleep(2_500);
    const sync = await system.athsAdmin('GET', '/api/admin/customer-sync');
    expect(sync.body.data.counts.pending).toBe(30);
    expect(sync.body.data.oldestPendingAgeSeconds).toBeGreaterThan(2);
    expect(sync.body.data.delivery.targetFailing).toBe(true);
    const tried = (await system.outboxRows()).filter((row) => ids.includes(row.key) && row.last_error !== null);
    expect(tried.length).toBeGreaterThan(0);
    expect(tried[0]!.last_error).toMatch(/ECONNREFUSED|ECONNRESET|other side closed|socket/i);
    expect(metricValue(await system.athsMetrics(), 'crms_provisioning_pending')).toBe(30);

    await system.proxy.set({ kind: 'pass' });
    const back = Date.now();
    await system.waitForCustomers(ids, 10_000);
    expect(Date.now() - back).toBeLessThan(2_000);
    const counts = await system.recordCounts(ids);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await waitFor(async () => (await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data.counts.pending === 0, 10_000, 'no pending');
  });

  it('CRMS answering 500 for a while is retried with backoff, then every record arrives once', async () => {
    await system.proxy.set({ kind: 'status', status: 500 });
    const users = await Promise.all(Array.from({ length: 8 }, () => system.register()));
    const ids = users.map((user) => user.userId);
    await waitFor(async () => (await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data.delivery.targetFailing === true, 10_000, 'CRMS seen as failing');
    await sleep(500); // a few probes
    const failed = (await system.outboxRows()).filter((row) => ids.includes(row.key) && row.last_status === 500);
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(failed.every((row) => row.state === 'pending' && row.last_error!.includes('HTTP 500'))).toBe(true);
    await system.proxy.set({ kind: 'pass' });
    await system.waitForCustomers(ids, 10_000);
    expect([...(await system.recordCounts(ids)).values()]).toEqual(Array(8).fill(1));
    const metrics = await system.athsMetrics();
    expect(metricValue(metrics, 'crms_provisioning_attempts_total', { topic: 'customer.create', outcome: 'retry' })).toBeGreaterThanOrEqual(3);
  });

  it('CRMS slower than the timeout: the call is abandoned and retried; the late arrival creates no duplicate', async () => {
    await system.proxy.set({ kind: 'delay', ms: 2_600 }); // PROVISIONING_TIMEOUT_MS is 2000 here (5000 by default)
    const users = await Promise.all(Array.from({ length: 3 }, () => system.register()));
    const ids = users.map((user) => user.userId);
    await waitFor(async () => (await system.outboxRows()).filter((row) => ids.includes(row.key) && /no answer within 2000 ms/.test(row.last_error ?? '')).length === 3, 10_000, 'timeouts');
    await system.proxy.set({ kind: 'pass' });
    await system.waitForCustomers(ids, 10_000);
    await waitFor(async () => (await system.outboxRows()).filter((row) => ids.includes(row.key) && row.state === 'delivered').length === 3, 10_000, 'delivered');
    expect([...(await system.recordCounts(ids)).values()]).toEqual([1, 1, 1]);
  });

  it('a wrong API key dead-letters with the 401 visible to operators; after the key is fixed, retry delivers them all', async () => {
    await system.stopAths();
    await system.startAths({ CRMS_SERVICE_API_KEY: 'not-the-key-crms-accepts-0123456789' });
    let fixed = false;
    try {
      const users = await Promise.all(Array.from({ length: 4 }, () => system.register()));
      const ids = users.map((user) => user.userId);
      await waitFor(async () => (await system.outboxRows()).filter((row) => ids.includes(row.key) && row.state === 'dead').length === 4, 10_000, 'dead letters');
      const sync = await system.athsAdmin('GET', '/api/admin/customer-sync');
      expect(sync.body.data.counts.dead).toBeGreaterThanOrEqual(4);
      const letter = sync.body.data.deadLetters.find((dead: { userId: string }) => dead.userId === ids[0]);
      expect(letter).toMatchObject({ operation: 'customer.create', lastStatus: 401 });
      expect(letter.attempts).toBeGreaterThanOrEqual(1); // 1, unless a loaded machine made an earlier call time out
      expect(letter.lastError).toContain('Invalid or missing service API key');
      expect(JSON.stringify(sync.body)).not.toContain('not-the-key-crms-accepts');
      expect(metricValue(await system.athsMetrics(), 'crms_provisioning_dead_letters_total', { topic: 'customer.create' })).toBe(4);
      expect(metricValue(await system.athsMetrics(), 'crms_provisioning_dead')).toBeGreaterThanOrEqual(4);
      expect(await system.customer(ids[0]!)).toBeNull();

      // The operator fixes the variable and restarts ATHS, then re-queues: first one user, then everything.
      await system.stopAths();
      await system.startAths();
      fixed = true;
      const one = await system.athsAdmin('POST', '/api/admin/customer-sync/retry', { userIds: [ids[0]] });
      expect(one).toMatchObject({ status: 200, body: { success: true, message: 'Customer sync retry queued', data: { requeued: 1 } } });
      await system.waitForCustomers([ids[0]!], 10_000);
      const rest = await system.athsAdmin('POST', '/api/admin/customer-sync/retry');
      expect(rest).toMatchObject({ status: 200 });
      expect(rest.body.data.requeued).toBeGreaterThanOrEqual(3);
      await system.waitForCustomers(ids, 10_000);
      await waitFor(async () => (await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data.counts.dead === 0, 10_000, 'no dead letters');

      const invalid = await system.athsAdmin('POST', '/api/admin/customer-sync/retry', { userIds: ['nope'] });
      expect(invalid.status).toBe(400);
      expect(invalid.body.errors[0].field).toBe('body -> userIds -> 0');
      const anonymous = await fetch(`${system.athsUrl}/api/admin/customer-sync`);
      expect(anonymous.status).toBe(401);
      const customerToken = (await system.register()).accessToken;
      const forbidden = await fetch(`${system.athsUrl}/api/admin/customer-sync/reconcile`, { method: 'POST', headers: { authorization: `Bearer ${customerToken}` } });
      expect(forbidden.status).toBe(403);
    } finally {
      if (!fixed) {
        await system.stopAths();
        await system.startAths();
      }
    }
  });

  it('propagates profile edits, deactivation, reactivation, role changes and deletion to CRMS, and CRMS suspension back to ATHS', async () => {
    const user = await system.register();
    await system.waitForCustomers([user.userId], 10_000);
    const statusOf = async (userId = user.userId) => (await system.customer(userId))?.customerStatus;

    const profile = await fetch(`${system.athsUrl}/api/user/profile`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fullName: 'Ada King', contactNumber: '+44 20 7946 1111' }),
    });
    expect(profile.status).toBe(200);
    await waitFor(async () => (await system.customer(user.userId))?.fullName === 'Ada King', 10_000, 'profile in CRMS');
    expect((await system.customer(user.userId))!.contactNumber).toBe('+44 20 7946 1111');

    // An address change is not CRMS's business: nothing is queued.
    const before = (await system.outboxRows(user.userId)).length;
    await fetch(`${system.athsUrl}/api/user/profile`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ address: { city: 'London' } }),
    });
    expect((await system.outboxRows(user.userId)).length).toBe(before);

    expect((await system.athsAdmin('PUT', `/api/admin/users/${user.userId}/deactivate`)).status).toBe(200);
    await waitFor(async () => (await statusOf()) === 'Inactive', 10_000, 'Inactive in CRMS');
    expect((await system.athsAdmin('PUT', `/api/admin/users/${user.userId}/activate`)).status).toBe(200);
    await waitFor(async () => (await statusOf()) === 'Active', 10_000, 'Active in CRMS');

    // CRMS → ATHS: an administrator suspends the customer in CRMS.
    const record = (await system.customer(user.userId))!;
    const athsRowsBefore = (await system.outboxRows(user.userId)).length;
    const suspend = await system.crmsAdmin('PATCH', `/api/customers/${record.customerId}/status`, { status: 'Suspended', reason: 'chargeback' });
    expect(suspend.status).toBe(200);
    await waitFor(async () => (await system.athsUser(user.userId)).isActive === false, 10_000, 'deactivated in ATHS');
    await sleep(300);
    // No echo: ATHS queued nothing back, and CRMS keeps Suspended (not overwritten with Inactive).
    expect((await system.outboxRows(user.userId)).length).toBe(athsRowsBefore);
    expect(await statusOf()).toBe('Suspended');
    const reactivate = await system.crmsAdmin('PATCH', `/api/customers/${record.customerId}/status`, { status: 'Active' });
    expect(reactivate.status).toBe(200);
    await waitFor(async () => (await system.athsUser(user.userId)).isActive === true, 10_000, 'reactivated in ATHS');
    await waitFor(
      async () => (await rowsOf<{ state: string }>(system.crmsDb.db, sql`SELECT state FROM user_status_outbox`)).every((row) => row.state === 'delivered'),
      10_000,
      'status messages delivered',
    );
    expect(metricValue(await system.crmsMetrics(), 'aths_status_sync_attempts_total', { topic: 'user.status', outcome: 'delivered' })).toBeGreaterThanOrEqual(2);

    // Role changes: no longer a Customer → Inactive; a Customer again → Active.
    expect((await system.athsAdmin('PUT', `/api/admin/users/${user.userId}/role`, { role: 'Administrator' })).status).toBe(200);
    await waitFor(async () => (await statusOf()) === 'Inactive', 10_000, 'Inactive after promotion');
    expect((await system.athsAdmin('PUT', `/api/admin/users/${user.userId}/role`, { role: 'Customer' })).status).toBe(200);
    await waitFor(async () => (await statusOf()) === 'Active', 10_000, 'Active after demotion');

    // Self-delete (soft) and administrator hard delete → Inactive.
    const login = await fetch(`${system.athsUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    const token = (await login.json()).data.accessToken as string;
    const closed = await fetch(`${system.athsUrl}/api/user/account`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD, confirmation: 'DELETE' }),
    });
    expect(closed.status).toBe(200);
    await waitFor(async () => (await statusOf()) === 'Inactive', 10_000, 'Inactive after self-delete');
    const other = await system.register();
    await system.waitForCustomers([other.userId], 10_000);
    expect((await system.athsAdmin('DELETE', `/api/admin/users/${other.userId}`)).status).toBe(200);
    await waitFor(async () => (await statusOf(other.userId)) === 'Inactive', 10_000, 'Inactive after hard delete');
    // Every message of the user went out in order and was delivered.
    const rows = await system.outboxRows(user.userId);
    expect(rows.map((row) => row.topic)).toEqual([
      'customer.create', 'customer.update', 'customer.status', 'customer.status', 'customer.status', 'customer.create', 'customer.status', 'customer.status',
    ]);
    expect(rows.every((row) => row.state === 'delivered')).toBe(true);
  });

  it('self-heals a missing record on a later change, and reconcile queues Customers the outbox never saw', async () => {
    // The create is refused (key rewritten on the way), then CRMS accepts again: the profile edit creates the record first.
    await system.proxy.set({ kind: 'rewrite-key', key: 'wrong' });
    const user = await system.register();
    await waitFor(async () => (await system.outboxRows(user.userId))[0]?.state === 'dead', 10_000, 'dead create');
    await system.proxy.set({ kind: 'pass' });
    await fetch(`${system.athsUrl}/api/user/profile`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fullName: 'Healed Later' }),
    });
    await waitFor(async () => (await system.customer(user.userId))?.fullName === 'Healed Later', 10_000, 'healed record');

    // A Customer written straight into the database (as before the outbox existed), and an inactive one.
    const legacy = newObjectId();
    const legacyInactive = newObjectId();
    for (const [id, active] of [[legacy, true], [legacyInactive, false]] as const) {
      await system.athsDb.db.execute(sql`
        INSERT INTO users (id, email, password_hash, full_name, contact_number, role, is_active)
        VALUES (${id}, ${`legacy.${id}@example.com`}, 'x', 'Legacy Customer', '0123456789', 'Customer', ${active})`);
    }
    const result = await system.athsAdmin('POST', '/api/admin/customer-sync/reconcile');
    expect(result).toMatchObject({ status: 200, body: { message: 'Customer sync reconciliation queued', data: { queued: 2 } } });
    expect(result.body.data.requeued).toBeGreaterThanOrEqual(1); // at least this test's dead create
    await system.waitForCustomers([legacy, legacyInactive], 10_000);
    await waitFor(async () => (await system.customer(legacyInactive))?.customerStatus === 'Inactive', 10_000, 'inactive legacy');
    expect((await system.customer(legacy))!.customerStatus).toBe('Active');
    await waitFor(async () => (await system.outboxRows(user.userId))[0]?.state === 'delivered', 10_000, 'requeued create delivered');
    // Nothing left to do: a second run queues nothing.
    expect((await system.athsAdmin('POST', '/api/admin/customer-sync/reconcile')).body.data).toEqual({ queued: 0, requeued: 0 });
  });

  it.runIf(driver === 'postgres')('operator CLI: sync-status, sync-retry, reconcile (queue in the database; the running ATHS delivers)', async () => {
    await system.proxy.set({ kind: 'rewrite-key', key: 'wrong' });
    const user = await system.register();
    await waitFor(async () => (await system.outboxRows(user.userId))[0]?.state === 'dead', 10_000, 'dead create');
    await system.proxy.set({ kind: 'down' });
    const waiting = await system.register();
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: system.athsTestDb.url,
      SERVICE_API_KEYS: ATHS_KEY,
      CRMS_BASE_URL: system.proxy.url,
      CRMS_SERVICE_API_KEY: CRMS_KEY,
    };
    const run = async (...argv: string[]) => {
      const lines: string[] = [];
      const code = await runCli(argv, env, (line) => lines.push(line));
      return { code, text: lines.join('\n') };
    };
    const status = await run('sync-status');
    expect(status.code).toBe(0);
    expect(status.text).toMatch(/dead 1/);
    expect(status.text).toContain(`userId=${user.userId}`);
    expect(status.text).toContain('status=401');
    expect(status.text).toMatch(/oldest pending: \d+\.\d s \(/);
    await system.proxy.set({ kind: 'pass' });
    await system.waitForCustomers([waiting.userId], 10_000);
    const json = await run('sync-status', '--json');
    expect(JSON.parse(json.text).counts.dead).toBe(1);
    expect((await run('sync-retry', '--user', 'bad')).code).toBe(2);
    const retry = await run('sync-retry', '--user', user.userId);
    expect(retry.text).toContain('Re-queued 1 message(s)');
    await system.waitForCustomers([user.userId], 10_000);
    const reconcile = await run('reconcile');
    expect(reconcile.text).toContain('Queued 0 Customer(s)');
    expect((await run('sync-retry')).text).toContain('Re-queued 0 message(s)');
    expect((await run('sync-status')).text).toContain('oldest pending: none');
  });

  it('on a database whose outbox was never used, queues the existing Customers at start', async () => {
    await system.stopAths();
    await system.athsDb.db.execute(sql`TRUNCATE customer_outbox`);
    const legacy = newObjectId();
    await system.athsDb.db.execute(sql`
      INSERT INTO users (id, email, password_hash, full_name, contact_number, role)
      VALUES (${legacy}, ${`first.${legacy}@example.com`}, 'x', 'First Deploy', '0123456789', 'Customer')`);
    await system.startAths();
    await system.waitForCustomers([legacy], 20_000);
    // Everyone else was queued again too, and CRMS answered "already exists": still one record each.
    const rows = await system.outboxRows();
    expect(rows.length).toBeGreaterThan(10);
    await waitFor(async () => (await system.outboxRows()).every((row) => row.state === 'delivered'), 20_000, 'all delivered');
    const counts = await system.recordCounts(rows.map((row) => row.key));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
