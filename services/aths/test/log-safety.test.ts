import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logCapture, testDatabaseDrivers } from '@shop/service-kit/testing';
import { API_KEY, adminSession, login, PASSWORD, startAths, uniqueEmail, type TestAths } from './helpers.ts';

/**
 * Issue 12, item 6 on ATHS: a run that provokes failing queries holding secrets, secret-bearing URLs and 500s,
 * with the service's real logger writing to memory; then every secret it used is looked for in every line.
 */
describe.each(testDatabaseDrivers())('ATHS logs on %s', (driver) => {
  const { logger, lines, secrets, secret, text: logText } = logCapture('aths');
  let aths: TestAths;
  const metricsToken = secret('metrics-token-0123456789abcdef-');

  beforeAll(async () => {
    aths = await startAths(driver, { METRICS_TOKEN: metricsToken, EXPOSE_DOCS: 'false' }, { logger });
  });
  afterAll(async () => aths?.close());

  /** A user made through the service without a verification mail (whose dev-mode log line names the address). */
  async function quietUser() {
    const email = `${secret('owner')}@example.com`;
    const password = `${secret('Pw')}A1`;
    await aths.app.aths.registration.createUser(
      { email, password, fullName: 'Quiet User', contactNumber: '0123456789', role: 'Customer', emailVerified: true },
      { sendVerification: false },
    );
    const res = await login(aths.app, email, password);
    expect(res.statusCode).toBe(200);
    return { email, password, accessToken: res.json().data.accessToken as string, refreshToken: res.json().data.refreshToken as string };
  }

  it('a registration whose statement fails answers 500 and logs neither the address, the password nor its hash', async () => {
    // The database refuses this domain: PostgreSQL's detail would be `Failing row contains (<id>, <email>, <hash>, …)`.
    await aths.database.db.execute(sql`ALTER TABLE users ADD CONSTRAINT log_probe_domain CHECK (email NOT LIKE '%@refused.example') NOT VALID`);
    const email = `${secret('applicant')}@refused.example`;
    const password = `${secret('Reg')}A1`;
    const res = await aths.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password, fullName: 'Ada Lovelace', contactNumber: '+44 20 7946 0000' },
    });
    expect(res.statusCode).toBe(500);
    const failure = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'unhandled error');
    expect(JSON.stringify(failure.err)).toContain('log_probe_domain');
    expect(logText()).not.toContain(email);
    expect(logText()).not.toContain(password);
    expect(logText()).not.toContain('$argon2id$');
  });

  it('a profile update whose statement fails logs neither the new name nor the stored row (address, hash)', async () => {
    const user = await quietUser();
    await aths.database.db.execute(sql`ALTER TABLE users ADD CONSTRAINT log_probe_name CHECK (full_name NOT LIKE 'Refused %') NOT VALID`);
    const fullName = `Refused ${secret('Name')}`;
    const res = await aths.app.inject({
      method: 'PUT',
      url: '/api/user/profile',
      headers: { authorization: `Bearer ${user.accessToken}` },
      payload: { fullName, address: { street: `${secret('Street')} 1` } },
    });
    expect(res.statusCode).toBe(500);
    expect(res.json().errors).toEqual([{ field: 'server', message: 'An unexpected error occurred. Please try again later.' }]);
    const failure = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'unhandled error').at(-1);
    expect(failure.err.type).toBe('DrizzleQueryError');
    expect(failure.err.cause).toMatchObject({ code: '23514', constraint: 'log_probe_name', table: 'users' });
    expect(failure.err.message).toMatch(/^Failed query: update "users" set .* \(parameters withheld\)$/);
    expect(logText()).not.toContain(fullName);
    expect(logText()).not.toContain(user.email);
    expect(logText()).not.toContain('$argon2id$');
  });

  it('URLs are logged without query values (a key sent as ?x-api-key=, a mailed token) or e-mail addresses in the path', async () => {
    const token = secret('mailed');
    const key = secret('querykey');
    const link = await aths.app.inject({ method: 'GET', url: `/api/auth/verify-email?token=${token}&x-api-key=${key}` });
    expect(link.statusCode).toBe(302);
    const lookedUp = `${secret('looked')}@example.com`;
    const byEmail = await aths.app.inject({ method: 'GET', url: `/api/internal/user/email/${lookedUp}`, headers: { 'x-api-key': API_KEY } });
    expect(byEmail.statusCode).toBe(404);
    const urls = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request completed').map((entry) => entry.url);
    expect(urls).toContain('/api/auth/verify-email?token=[redacted]&x-api-key=[redacted]');
    expect(urls).toContain('/api/internal/user/email/[redacted]');
  });

  it('the Bearer scheme is case-insensitive (RFC 7235)', async () => {
    const user = await quietUser();
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: { authorization: `${scheme} ${user.accessToken}` } });
      expect(res.statusCode, scheme).toBe(200);
      expect(res.json().data.user.email).toBe(user.email);
    }
    const other = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: { authorization: `Basic ${user.accessToken}` } });
    expect(other.statusCode).toBe(401);
    expect(other.json().errors[0].field).toBe('authorization');
  });

  it('a request with oversized headers answers 431 in the envelope with x-request-id, logging no header', async () => {
    const user = await quietUser();
    const address = await aths.app.listen({ port: 0, host: '127.0.0.1' });
    expect(address).toMatch(/^http:/);
    const port = (aths.app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/user/profile`, {
      headers: { authorization: `Bearer ${user.accessToken}`, 'x-api-key': API_KEY, cookie: `c=${'x'.repeat(20_000)}` },
    });
    expect(res.status).toBe(431);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({
      success: false,
      message: 'Request headers are too large',
      errors: [{ field: 'header', message: 'The request headers exceed 16 KB' }],
    });
    expect(logText()).not.toContain(user.accessToken);
    expect(logText()).not.toContain(API_KEY);
  });

  it('METRICS_TOKEN: /metrics answers only the scraper\'s bearer token; EXPOSE_DOCS=false: no /docs', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789abcdef0123456789', `Basic ${metricsToken}`]) {
      const res = await aths.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.json()).toEqual({
        success: false,
        message: 'Metrics token required',
        errors: [{ field: 'authorization', message: 'Send an Authorization: Bearer <METRICS_TOKEN> header' }],
      });
    }
    const scraped = await aths.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `bearer ${metricsToken}` } });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toContain('http_request_duration_seconds');
    for (const url of ['/docs', '/docs/json', '/docs/static/index.html']) {
      expect((await aths.app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
    expect((await aths.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('no line holds any secret this run used', () => {
    expect(lines.length).toBeGreaterThan(10);
    for (const value of secrets) expect(logText(), value).not.toContain(value);
    expect(logText()).not.toContain(PASSWORD);
  });
});

/** Issue 12, item 7: the internal status route (CRMS suspending a customer) keeps one active Administrator. */
describe.each(testDatabaseDrivers())('ATHS internal status route and the last Administrator on %s', (driver) => {
  let aths: TestAths;
  beforeAll(async () => {
    aths = await startAths(driver);
  });
  afterAll(async () => aths?.close());

  const setActive = (userId: string, isActive: boolean) =>
    aths.app.inject({ method: 'PATCH', url: `/api/internal/user/${userId}/status`, headers: { 'x-api-key': API_KEY }, payload: { isActive } });

  it('refuses to deactivate the only active Administrator (409), also when other Administrators are inactive', async () => {
    const only = await adminSession(aths.app);
    const refused = await setActive(only.user.id, false);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({
      success: false,
      message: 'Cannot deactivate the last Administrator',
      errors: [{ field: 'userId', message: 'At least one active Administrator must remain' }],
    });
    expect((await login(aths.app, only.email)).statusCode).toBe(200);

    const second = await adminSession(aths.app, uniqueEmail('second'));
    expect((await setActive(second.user.id, false)).statusCode).toBe(200);
    expect((await setActive(only.user.id, false)).statusCode).toBe(409);
    expect((await login(aths.app, only.email)).statusCode).toBe(200);

    // With another active Administrator, deactivation goes through (and the last one is then protected in turn).
    expect((await setActive(second.user.id, true)).statusCode).toBe(200);
    expect((await setActive(only.user.id, false)).statusCode).toBe(200);
    expect((await login(aths.app, only.email)).statusCode).toBe(401);
    expect((await setActive(second.user.id, false)).statusCode).toBe(409);
  });
});
