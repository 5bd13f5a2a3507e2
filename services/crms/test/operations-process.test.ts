import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess, waitFor } from '@shop/service-kit/testing';

const KEY = 'crms-process-key-0123456789abcdef0123456789';
const METRICS_TOKEN = 'scraper-token-0123456789abcdef0123456789';
const production = { NODE_ENV: 'production', LOG_LEVEL: 'info', SERVICE_API_KEYS: KEY, ATHS_SERVICE_API_KEY: KEY, ATHS_BASE_URL: 'http://127.0.0.1:1' };

/** The real process in production: what an operator gets from METRICS_TOKEN and the EXPOSE_DOCS default. */
describe('CRMS in production as a child process', () => {
  const started: ServiceProcess[] = [];
  afterAll(async () => {
    for (const service of started) await service.stop();
  });

  it('while waiting for its database, /metrics answers only the METRICS_TOKEN; the log holds no credential or query value', { timeout: 90_000 }, async () => {
    const password = 'db-password-never-logged';
    const service = await ServiceProcess.start({
      entry: 'services/crms/src/main.ts',
      env: { ...production, METRICS_TOKEN, DATABASE_URL: `postgres://crms:${password}@127.0.0.1:1/crms` },
      waitFor: 'live',
    });
    started.push(service);
    const refused = await fetch(`${service.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect((await refused.json()).message).toBe('Metrics token required');
    const scraped = await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('process_cpu_user_seconds_total');

    const searched = 'wanted.person@example.com';
    const queried = await fetch(`${service.url}/api/customers/search?q=${encodeURIComponent(searched)}&x-api-key=${KEY}`);
    expect(queried.status).toBe(503);
    // pg loads only when the first attempt starts, so the requests above may come before that attempt has failed.
    await waitFor(() => service.logs().includes('database not reachable'), 10_000, 'a failed attempt');
    await service.stop();
    const logs = service.logs();
    expect(logs).toContain('"url":"/api/customers/search?q=[redacted]&x-api-key=[redacted]"');
    for (const value of [password, METRICS_TOKEN, KEY, searched, encodeURIComponent(searched)]) expect(logs, value).not.toContain(value);
  });

  it('serving, /docs is off by default and /metrics is open without METRICS_TOKEN', { timeout: 90_000 }, async () => {
    const service = await ServiceProcess.start({ entry: 'services/crms/src/main.ts', env: { ...production, DATABASE_URL: 'memory://' } });
    started.push(service);
    for (const path of ['/docs', '/docs/json']) {
      const res = await fetch(`${service.url}${path}`);
      expect(res.status, path).toBe(404);
      expect((await res.json()).success).toBe(false);
    }
    expect((await fetch(`${service.url}/metrics`)).status).toBe(200);
    await service.stop();
    expect(service.logs()).toContain('"docs":"off (EXPOSE_DOCS)"');
  });
});
