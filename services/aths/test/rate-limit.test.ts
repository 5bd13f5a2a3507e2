import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { buildApp, type AthsApp } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { bearer, buildTestApp, PASSWORD, registration, startAths, uniqueEmail, type TestAths } from './helpers.ts';

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
    const { accessToken } = await aths.app.aths.registration.register(registration()).then((r) => ({ accessToken: r.tokens.accessToken }));
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

const REDIS_URL = 'redis://127.0.0.1:6379';
const HARDENED = {
  ...LIMITS,
  TRUST_PROXY: 'true',
  RATE_LIMIT_CURRENT_PASSWORD_PER_USER: '3',
  RATE_LIMIT_CURRENT_PASSWORD_PER_IP: '5',
};
const stores = ['memory', 'redis'] as const;
const combinations = testDatabaseDrivers().flatMap((driver) => stores.map((store) => [driver, store] as const));

describe.each(combinations)('ATHS rate limits on %s with the %s store', (driver, store) => {
  const prefixes: string[] = [];
  /** One app's environment; with Redis each app gets its own key prefix, so apps never share counters. */
  const envFor = (extra: Record<string, string> = {}): Record<string, string> => {
    if (store === 'memory') return { ...HARDENED, ...extra };
    const prefix = `aths-test-${randomBytes(6).toString('hex')}:`;
    prefixes.push(prefix);
    return { ...HARDENED, REDIS_URL, RATE_LIMIT_REDIS_PREFIX: prefix, ...extra };
  };
  let aths: TestAths;
  beforeAll(async () => {
    aths = await startAths(driver, envFor());
  });
  afterAll(async () => {
    await aths?.close();
    if (prefixes.length === 0) return;
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('a flood of new keys does not reset a locked account (a full in-memory store refuses new keys)', async () => {
    const cap = 20;
    const flooded = await buildTestApp(aths.database, envFor({ RATE_LIMIT_MEMORY_MAX_KEYS: String(cap) }));
    try {
      const victim = uniqueEmail('victim');
      for (let i = 0; i < 3; i++) expect((await loginFrom(flooded, '10.3.0.1', victim)).statusCode).toBe(401);
      expect429(await loginFrom(flooded, '10.3.0.1', victim));
      // More new e-mails than the store holds, four per address (under the per-IP limit of 5).
      const junk = Array.from({ length: cap + 10 }, () => uniqueEmail('junk'));
      const statuses: number[] = [];
      for (const [i, email] of junk.entries()) statuses.push((await loginFrom(flooded, `10.3.1.${Math.floor(i / 4)}`, email)).statusCode);
      expect429(await loginFrom(flooded, '10.3.2.1', victim));
      if (store === 'memory') {
        // The victim's counter and cap - 1 junk ones fill the per-e-mail store; later new e-mails are refused.
        expect(statuses).toEqual([...Array<number>(cap - 1).fill(401), ...Array<number>(11).fill(429)]);
        // Live counters still count normally.
        expect((await loginFrom(flooded, '10.3.3.1', junk[0]!)).statusCode).toBe(401);
      } else {
        expect(statuses).toEqual(Array<number>(cap + 10).fill(401));
      }
    } finally {
      await flooded.close();
    }
  });

  it.runIf(store === 'memory')('a full in-memory store takes new keys again once its counters expire', async () => {
    const short = await buildTestApp(aths.database, envFor({ RATE_LIMIT_MEMORY_MAX_KEYS: '2', RATE_LIMIT_WINDOW: '3s' }));
    try {
      expect((await loginFrom(short, '10.4.0.1', uniqueEmail())).statusCode).toBe(401);
      expect((await loginFrom(short, '10.4.0.1', uniqueEmail())).statusCode).toBe(401);
      const refused = await loginFrom(short, '10.4.0.1', uniqueEmail());
      expect429(refused);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3);
      await new Promise((resolve) => setTimeout(resolve, 3_100));
      expect((await loginFrom(short, '10.4.0.1', uniqueEmail())).statusCode).toBe(401);
    } finally {
      await short.close();
    }
  });

  it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4 (X-Forwarded-For with TRUST_PROXY)', async () => {
    const from = (forwardedFor: string) =>
      aths.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: uniqueEmail(), password: 'Wrong1234' },
        headers: { 'x-forwarded-for': forwardedFor },
      });
    // Five attempts (the per-IP limit) from five addresses of one /64: the sixth is refused, another /64 is not.
    for (const ip of ['2001:db8:5:1::1', '2001:db8:5:1::2', '2001:db8:5:1:ffff:ffff:ffff:fffe', '2001:DB8:5:1:0:0:0:3', '2001:db8:5:1::4']) {
      expect((await from(ip)).statusCode).toBe(401);
    }
    expect429(await from('2001:db8:5:1:abcd::9'));
    expect((await from('2001:db8:5:2::1')).statusCode).toBe(401);
    for (const ip of ['::ffff:10.5.0.1', '10.5.0.1', '::ffff:10.5.0.1', '10.5.0.1', '10.5.0.1']) expect((await from(ip)).statusCode).toBe(401);
    expect429(await from('::ffff:10.5.0.1'));
    expect429(await from('10.5.0.1'));
    // IPv4 is counted per address.
    expect((await from('10.5.0.2')).statusCode).toBe(401);
  });

  it('counts a long forged X-Forwarded-For value under a short key', async () => {
    const forged = `forged-${randomBytes(2_000).toString('hex')}`;
    const from = (forwardedFor: string) =>
      aths.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: uniqueEmail(), password: 'Wrong1234' }, headers: { 'x-forwarded-for': forwardedFor } });
    for (let i = 0; i < 5; i++) expect((await from(forged)).statusCode).toBe(401);
    expect429(await from(forged));
    expect((await from(`${forged}x`)).statusCode).toBe(401);
    if (store === 'redis') {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefixes[0]}*`).finally(() => redis.quit());
      expect(keys.length).toBeGreaterThan(0);
      expect(Math.max(...keys.map((key) => key.length))).toBeLessThanOrEqual(prefixes[0]!.length + 100);
    }
  });

  const change = (token: string, ip: string, currentPassword = 'Wrong1234') =>
    aths.app.inject({
      method: 'PUT',
      url: '/api/user/change-password',
      headers: bearer(token),
      payload: { currentPassword, newPassword: 'Changed123' },
      remoteAddress: ip,
    });
  const closeAccount = (token: string, ip: string, password = 'Wrong1234') =>
    aths.app.inject({ method: 'DELETE', url: '/api/user/account', headers: bearer(token), payload: { password, confirmation: 'DELETE' }, remoteAddress: ip });
  const signUp = async () => (await aths.app.aths.registration.register(registration())).tokens.accessToken;

  it('limits current-password checks per user, on change-password and delete-account together', async () => {
    const token = await signUp();
    expect((await change(token, '10.6.0.1')).statusCode).toBe(401);
    expect((await closeAccount(token, '10.6.0.2')).statusCode).toBe(401);
    expect((await change(token, '10.6.0.3')).statusCode).toBe(401);
    // The limit (3) holds from any address, on either route, and before the password is checked.
    expect429(await closeAccount(token, '10.6.0.4', PASSWORD));
    expect429(await change(token, '10.6.0.5', PASSWORD));
    // Another user is not affected.
    expect((await change(await signUp(), '10.6.0.6')).statusCode).toBe(401);
  });

  it('limits current-password checks per IP across users', async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    for (const token of [a, a, b, b, c]) expect((await change(token, '10.7.0.1')).statusCode).toBe(401);
    expect429(await closeAccount(c, '10.7.0.1'));
    expect429(await change(c, '10.7.0.1'));
    // c has used one check of three: from another address it is still answered.
    expect((await change(c, '10.7.0.2')).statusCode).toBe(401);
  });
});
