import { createLogger, HttpError, newObjectId, type AccessClaims } from '@shop/service-kit';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminAccountCheck } from '../src/admin-account-check.ts';
import { createAthsClient } from '../src/aths-client.ts';
import { startFakeAths, type FakeAths } from './support/fake-aths.ts';

/**
 * The administrator check against an ATHS over real HTTP (the test stand-in of test/support/fake-aths.ts): the
 * size bound and ATHS answering errors. Demotion, deactivation and deletion with the real ATHS are in
 * tests/provisioning/stale-admin.test.ts.
 */
describe('CRMS administrator account check', () => {
  let aths: FakeAths;
  let client: ReturnType<typeof createAthsClient>;
  const logger = createLogger({ service: 'crms', level: 'silent', pretty: false });

  beforeAll(async () => {
    aths = await startFakeAths();
    client = createAthsClient({ baseUrl: aths.url, apiKey: aths.apiKey, logger });
  });
  afterAll(async () => {
    await client?.close();
    await aths?.stop();
  });

  function administrator(): AccessClaims {
    const id = newObjectId();
    aths.addUser({ _id: id, email: `${id}@example.com`, fullName: 'An Admin', contactNumber: '+1234567890', role: 'Administrator', isActive: true });
    return { userId: id, email: `${id}@example.com`, role: 'Administrator' };
  }
  const lookupsOf = (claims: AccessClaims) => aths.requests.filter((request) => request.url === `/api/internal/user/${claims.userId}`).length;

  it('remembers at most maxEntries administrators, forgetting the least recently fetched', async () => {
    const check = createAdminAccountCheck({ getUser: (userId) => client.getUser(userId), ttlMs: 60_000, maxStaleMs: 60_000, logger, metrics: new Registry(), maxEntries: 2 });
    const [a, b, c] = [administrator(), administrator(), administrator()];
    for (const claims of [a, b, a, b]) expect(await check(claims)).toBe(true);
    expect([lookupsOf(a), lookupsOf(b)]).toEqual([1, 1]);
    expect(await check(c)).toBe(true); // a third: `a` is forgotten
    expect(await check(b)).toBe(true);
    expect(await check(a)).toBe(true);
    expect([lookupsOf(a), lookupsOf(b), lookupsOf(c)]).toEqual([2, 1, 1]);
  });

  it('with a TTL of 0 asks ATHS every time; ATHS answering 503 serves the last answer until maxStaleMs, then 503', async () => {
    const metrics = new Registry();
    const check = createAdminAccountCheck({ getUser: (userId) => client.getUser(userId), ttlMs: 0, maxStaleMs: 300, logger, metrics });
    const admin = administrator();
    expect(await check(admin)).toBe(true);
    expect(await check(admin)).toBe(true);
    expect(lookupsOf(admin)).toBe(2);
    aths.mode = 'error';
    try {
      expect(await check(admin)).toBe(true);
      expect((await metrics.getSingleMetricAsString('crms_admin_account_checks_total'))).toContain('outcome="stale"} 1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const refused = await check(admin).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(HttpError);
      expect(refused).toMatchObject({ statusCode: 503, errors: [{ field: 'aths' }] });
    } finally {
      aths.mode = 'up';
    }
    expect(await check(admin)).toBe(true);
  });
});
