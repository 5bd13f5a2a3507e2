import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { buildApp, type AthsApp } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { registration, startAths, uniqueEmail, type TestAths } from './helpers.ts';

const LIMITS = {
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_LOGIN_PER_IP: '5',
  RATE_LIMIT_LOGIN_PER_EMAIL: '3',
  RATE_LIMIT_REGISTER_PER_IP: '2',
  RATE_LIMIT_PASSWORD_PER_IP: '4',
  RATE_LIMIT_PASSWORD_PER_EMAIL: '2',
};

const loginFrom = (app: AthsApp, ip: string, email: string) =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'Wrong1234' }, remoteAddress: ip });

function expect429(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
  expect(res.statusCode).toBe(429);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(res.json()).toEqual({ success: false, message: 'Too many requests', errors: [{ field: 'rate-limit', message: expect.any(String) }] });
}

describe.each(testDatabaseDrivers())('ATHS rate limits on %s', (driver) => {
  let aths: TestAths;
  beforeAll(async () => {
    aths = await startAths(driver, LIMITS);
  });
  afterAll(async () => aths?.close());

  it('limits login per e-mail and per IP', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < 3; i++) expect((await loginFrom(aths.app, '10.0.0.1', email)).statusCode).toBe(401);
    expect429(await loginFrom(aths.app, '10.0.0.1', email));
    // Same e-mail from another IP: the per-e-mail limit still holds.
    expect429(await loginFrom(aths.app, '10.0.0.2', email));
    // Other e-mails from 10.0.0.1: allowed until the per-IP limit (5).
    expect((await loginFrom(aths.app, '10.0.0.1', uniqueEmail())).statusCode).toBe(401);
    expect429(await loginFrom(aths.app, '10.0.0.1', uniqueEmail()));
  });

  it('limits registration and password reset requests', async () => {
    const reg = () => aths.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration(), remoteAddress: '10.0.1.1' });
    expect((await reg()).statusCode).toBe(201);
    expect((await reg()).statusCode).toBe(201);
    expect429(await reg());
    const forgot = (email: string) => aths.app.inject({ method: 'POST', url: '/api/auth/forgot-password', payload: { email }, remoteAddress: '10.0.2.1' });
    const email = uniqueEmail();
    expect((await forgot(email)).statusCode).toBe(200);
    expect((await forgot(email)).statusCode).toBe(200);
    expect429(await forgot(email));
    const { accessToken } = await aths.app.aths.users.register(registration()).then((r) => ({ accessToken: r.tokens.accessToken }));
    const resend = () => aths.app.inject({ method: 'POST', url: '/api/auth/resend-verification', headers: { authorization: `Bearer ${accessToken}` } });
    expect((await resend()).statusCode).toBe(200);
    expect((await resend()).statusCode).toBe(200);
    expect429(await resend());
  });
});

describe('ATHS rate limits shared through Redis', () => {
  const prefix = `aths-test-${randomBytes(6).toString('hex')}:`;
  let aths: TestAths;
  let second: AthsApp;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const env = { ...LIMITS, REDIS_URL: 'redis://127.0.0.1:6379', RATE_LIMIT_REDIS_PREFIX: prefix };
    aths = await startAths('pglite', env);
    const config = loadAthsConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: 'k', ...env });
    second = await buildApp(config, { database: aths.database, logger: createLogger({ service: 'aths', level: 'silent', pretty: false }) });
    await second.ready();
  });
  afterAll(async () => {
    await second?.close();
    await aths?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('two instances share the counters', async () => {
    const email = uniqueEmail();
    expect((await loginFrom(aths.app, '10.1.0.1', email)).statusCode).toBe(401);
    expect((await loginFrom(second, '10.1.0.2', email)).statusCode).toBe(401);
    expect((await loginFrom(aths.app, '10.1.0.3', email)).statusCode).toBe(401);
    expect429(await loginFrom(second, '10.1.0.4', email));
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    const ready = await second.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json().data).toEqual({ database: 'ok', redis: 'ok' });
  });
});
