import { sleep, testDatabaseDrivers, uniqueEmail } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, PASSWORD, ProvisioningSystem } from '../support/system.ts';

/** The bound under test (ADMIN_ACCOUNT_CACHE_MS), short so that the test is fast. */
const CACHE_MS = 1_000;
const MAX_STALE_MS = 3_000;

interface Answer {
  status: number;
  body: Record<string, any>;
}

async function call(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

describe.each(testDatabaseDrivers())('CRMS re-checks Administrator tokens with ATHS (real ATHS and CRMS over HTTP) on %s', (driver) => {
  let system: ProvisioningSystem;
  let customerId: string;

  beforeAll(async () => {
    system = await ProvisioningSystem.start(
      driver,
      {},
      { ADMIN_ACCOUNT_CACHE_MS: String(CACHE_MS), ADMIN_ACCOUNT_MAX_STALE_MS: String(MAX_STALE_MS) },
    );
    const customer = await system.register();
    await system.waitForCustomers([customer.userId]);
    customerId = (await system.customer(customer.userId))!.customerId;
  });
  afterAll(async () => {
    await system?.close();
  });

  const crms = (token: string, method: string, path: string, body?: unknown) => call(system.crmsUrl, token, method, path, body);
  const aths = (token: string, method: string, path: string, body?: unknown) => call(system.athsUrl, token, method, path, body);

  /** A second Administrator, created by the first through ATHS's admin API, and logged in. */
  async function secondAdmin(): Promise<{ id: string; token: string }> {
    const email = uniqueEmail('staff');
    const created = await system.athsAdmin('POST', '/api/admin/users', {
      email, password: PASSWORD, fullName: 'Second Admin', contactNumber: '0123456789', role: 'Administrator',
    });
    expect(created.status).toBe(201);
    const login = await fetch(`${system.athsUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    return { id: created.body.data.user._id as string, token: (await login.json()).data.accessToken as string };
  }

  /** The three calls the issue names: analytics, the list and a type change. */
  async function adminCalls(token: string, type: 'Regular' | 'Premium' | 'VIP'): Promise<Answer[]> {
    return [
      await crms(token, 'GET', '/api/customers/analytics'),
      await crms(token, 'GET', '/api/customers?limit=5'),
      await crms(token, 'PATCH', `/api/customers/${customerId}/type`, { type }),
    ];
  }

  async function customerType(): Promise<string> {
    const details = await system.crmsAdmin('GET', `/api/customers/${customerId}`);
    expect(details.status).toBe(200);
    return details.body.data.customerType as string;
  }

  /** The first Administrator, never changed, keeps full CRMS admin power throughout. */
  async function expectValidAdminWorks(type: 'Regular' | 'Premium' | 'VIP'): Promise<void> {
    const answers = await adminCalls(await system.adminToken(), type);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await customerType()).toBe(type);
  }

  const lookupsOnAths = async () =>
    metricValue(await system.athsMetrics(), 'http_request_duration_seconds_count', { method: 'GET', route: '/api/internal/user/:userId', status_code: '200' });

  it.each([
    {
      change: 'demoted to Customer',
      apply: (id: string) => system.athsAdmin('PUT', `/api/admin/users/${id}/role`, { role: 'Customer' }),
      status: 403,
      error: { message: 'Insufficient permissions', errors: [{ field: 'role', message: 'This action requires role Administrator' }] },
    },
    {
      change: 'deactivated',
      apply: (id: string) => system.athsAdmin('PUT', `/api/admin/users/${id}/deactivate`),
      status: 403,
      error: { message: 'Account is deactivated', errors: [{ field: 'account', message: 'This account has been deactivated' }] },
    },
    {
      change: 'hard-deleted',
      apply: (id: string) => system.athsAdmin('DELETE', `/api/admin/users/${id}`),
      status: 401,
      error: { message: 'Invalid or expired token', errors: [{ field: 'token', message: 'The account no longer exists' }] },
    },
  ])('an Administrator $change is refused by CRMS within ADMIN_ACCOUNT_CACHE_MS, as by ATHS', async ({ apply, status, error }) => {
    await expectValidAdminWorks('Regular');
    const second = await secondAdmin();
    // Logged in and working: CRMS now holds ATHS's answer for this administrator.
    expect((await adminCalls(second.token, 'Premium')).map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await customerType()).toBe('Premium');

    expect((await apply(second.id)).status).toBe(200);
    const changedAt = Date.now();
    // ATHS refuses at once, with the same answer CRMS must give.
    const onAths = await aths(second.token, 'GET', '/api/admin/stats');
    expect(onAths).toEqual({ status, body: { success: false, ...error } });

    await sleep(Math.max(0, changedAt + CACHE_MS - Date.now()));
    const answers = await adminCalls(second.token, 'VIP');
    for (const answer of answers) expect(answer).toEqual({ status, body: { success: false, ...error } });
    expect(await customerType()).toBe('Premium');
    await expectValidAdminWorks('Regular');
  });

  it('asks ATHS at most once per administrator per ADMIN_ACCOUNT_CACHE_MS; concurrent misses share one call', async () => {
    const admin = await secondAdmin();
    const before = await lookupsOnAths();
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, () => crms(admin.token, 'GET', '/api/customers/analytics')));
    expect(burst.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    for (let i = 0; i < 5; i++) expect((await crms(admin.token, 'GET', '/api/customers?limit=1')).status).toBe(200);
    const elapsed = Date.now() - started;
    // One look-up per started cache period: exactly one when the 25 calls fit in one period (they do on an idle
    // machine), never more than the periods they spanned on a loaded one.
    const lookups = (await lookupsOnAths()) - before;
    expect(lookups).toBeGreaterThanOrEqual(1);
    expect(lookups).toBeLessThanOrEqual(Math.ceil(elapsed / CACHE_MS));

    await sleep(CACHE_MS + 50);
    expect((await crms(admin.token, 'GET', '/api/customers/analytics')).status).toBe(200);
    expect(await lookupsOnAths()).toBe(before + lookups + 1);
  });

  it('while ATHS is unreachable: the last answer for ADMIN_ACCOUNT_MAX_STALE_MS, then 503 in the envelope (fail closed)', async () => {
    const known = await secondAdmin();
    const unseen = await secondAdmin();
    expect((await crms(known.token, 'GET', '/api/customers/analytics')).status).toBe(200);
    const checkedBy = Date.now();
    await system.stopAths();
    try {
      const unavailable = {
        status: 503,
        body: {
          success: false,
          message: 'Authentication service unavailable',
          errors: [{ field: 'aths', message: expect.stringContaining('administrator account cannot be checked') }],
        },
      };
      // Never checked: nothing to fall back on.
      expect(await crms(unseen.token, 'GET', '/api/customers/analytics')).toEqual(unavailable);

      await sleep(Math.max(0, checkedBy + CACHE_MS - Date.now()));
      expect((await crms(known.token, 'GET', '/api/customers/analytics')).status).toBe(200);
      expect(metricValue(await system.crmsMetrics(), 'crms_admin_account_checks_total', { outcome: 'stale' })).toBeGreaterThanOrEqual(1);

      await sleep(Math.max(0, checkedBy + MAX_STALE_MS - Date.now()));
      for (const answer of await adminCalls(known.token, 'VIP')) expect(answer).toEqual(unavailable);
    } finally {
      await system.startAths();
    }
    expect((await crms(known.token, 'GET', '/api/customers/analytics')).status).toBe(200);
    expect((await crms(unseen.token, 'GET', '/api/customers/analytics')).status).toBe(200);
    expect(await customerType()).not.toBe('VIP');
  });
});
