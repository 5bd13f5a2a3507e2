import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@shop/service-kit';
import { logCapture, testDatabaseDrivers } from '@shop/service-kit/testing';
import { buildApp } from '../src/app.ts';
import { loadCrmsConfig } from '../src/config.ts';
import { API_KEY, createCustomer, customerInput, startHarness, type Harness } from './support/harness.ts';

/**
 * Issue 12, items 6 and 7 on CRMS: failing statements holding a customer's data, searches and keys in URLs, a 431,
 * the case of `Bearer` and the METRICS_TOKEN / EXPOSE_DOCS settings, with the real logger writing to memory.
 */
describe.each(testDatabaseDrivers())('CRMS logs on %s', (driver) => {
  const { logger, lines, secrets, secret, text: logText, entries } = logCapture('crms');
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(driver, { logger });
  });
  afterAll(async () => h?.close());

  it('a create whose statement fails answers the integration guide\'s 500 and logs none of the customer\'s data', async () => {
    await h.database.db.execute(sql`ALTER TABLE customers ADD CONSTRAINT log_probe_domain CHECK (email NOT LIKE '%@refused.example') NOT VALID`);
    const input = customerInput({
      email: `${secret('buyer')}@refused.example`,
      fullName: `Jane ${secret('Surname')}`,
      contactNumber: `+44${Math.floor(Math.random() * 1e10).toString().padStart(10, '7')}`,
    });
    secrets.push(input.contactNumber);
    const res = await createCustomer(h.app, input);
    expect(res.statusCode).toBe(500);
    expect(res.json().message).toBe('Failed to create customer record');
    const failure = entries().find((entry) => entry.msg === 'customer create failed')!;
    expect(failure.err).toMatchObject({ type: 'DatabaseError', code: '23514', constraint: 'log_probe_domain', table: 'customers' });
    for (const value of [input.email, input.fullName, input.contactNumber] as string[]) expect(logText()).not.toContain(value);
  });

  it('a profile sync whose statement fails logs neither the new values nor the stored row', async () => {
    const input = customerInput({ email: `${secret('kept')}@example.com`, fullName: `Kept ${secret('Name')}` });
    expect((await createCustomer(h.app, input)).statusCode).toBe(200);
    await h.database.db.execute(sql`ALTER TABLE customers ADD CONSTRAINT log_probe_name CHECK (full_name NOT LIKE 'Refused %') NOT VALID`);
    const fullName = `Refused ${secret('Name')}`;
    const res = await h.app.inject({
      method: 'PATCH',
      url: `/api/customers/internal/user/${input.userId}`,
      headers: { 'x-api-key': API_KEY },
      payload: { fullName },
    });
    expect(res.statusCode).toBe(500);
    const failure = entries().filter((entry) => entry.msg === 'unhandled error').at(-1)!;
    expect(JSON.stringify(failure.err)).toContain('log_probe_name');
    for (const value of [fullName, input.email, input.fullName] as string[]) expect(logText()).not.toContain(value);
  });

  it('searches and keys in the URL are logged as names only; the Bearer scheme is case-insensitive', async () => {
    const searched = `${secret('wanted')}@example.com`;
    const key = secret('querykey');
    const token = await h.adminToken();
    for (const scheme of ['bearer', 'BEARER']) {
      const res = await h.app.inject({
        method: 'GET',
        url: `/api/customers/search?q=${encodeURIComponent(searched)}&x-api-key=${key}`,
        headers: { authorization: `${scheme} ${token}` },
      });
      expect(res.statusCode, scheme).toBe(200);
    }
    const urls = entries().filter((entry) => entry.msg === 'request completed').map((entry) => entry.url);
    expect(urls).toContain('/api/customers/search?q=[redacted]&x-api-key=[redacted]');
    expect(logText()).not.toContain(searched);
    expect(logText()).not.toContain(encodeURIComponent(searched));
    expect(logText()).not.toContain(token);
  });

  it('a request with oversized headers answers 431 in the envelope with x-request-id', async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.app.server.address() as AddressInfo).port;
    const key = secret('headerkey');
    const res = await fetch(`http://127.0.0.1:${port}/api/customers/internal/user/x`, { headers: { 'x-api-key': key, 'x-padding': 'p'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await res.json()).message).toBe('Request headers are too large');
  });

  describe('with METRICS_TOKEN and EXPOSE_DOCS=false', () => {
    const metricsToken = secret('crms-metrics-token-0123456789abcdef-');
    let app: App;
    beforeAll(async () => {
      const config = loadCrmsConfig(
        {
          NODE_ENV: 'test',
          SERVICE_API_KEYS: API_KEY,
          DATABASE_URL: h.url,
          ATHS_BASE_URL: h.aths.url,
          ATHS_SERVICE_API_KEY: h.aths.apiKey,
          METRICS_TOKEN: metricsToken,
          EXPOSE_DOCS: 'false',
        },
        () => undefined,
      );
      app = await buildApp(config, { database: h.database, logger, userStatusSync: false });
    });
    afterAll(async () => app?.close());

    it('refuses a METRICS_TOKEN shorter than 32 characters at start', () => {
      expect(() => loadCrmsConfig({ NODE_ENV: 'test', METRICS_TOKEN: `${'a'.repeat(32)},short` }, () => undefined)).toThrow(
        /METRICS_TOKEN: every token must be at least 32 characters/,
      );
    });

    it('/metrics answers the scraper\'s token only, /docs is not served', async () => {
      const refused = await app.inject({ method: 'GET', url: '/metrics' });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().errors).toEqual([{ field: 'authorization', message: 'Send an Authorization: Bearer <METRICS_TOKEN> header' }]);
      const scraped = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${metricsToken}` } });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.body).toContain('process_cpu_user_seconds_total');
      expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(404);
      // Without the settings (the harness's app), both stay open as before.
      expect((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      expect((await h.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    });
  });

  it('no line holds any secret this run used', () => {
    expect(lines.length).toBeGreaterThan(5);
    for (const value of secrets) expect(logText(), value).not.toContain(value);
  });
});
