import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  apiKeyGuard,
  buildServer,
  ConfigError,
  corsOrigins,
  createLogger,
  createMetricsRegistry,
  DEVELOPMENT_CORS_ORIGINS,
  HttpError,
  ok,
  type App,
} from '../src/index.ts';

const ALLOWED = 'http://localhost:3000';
const OTHER = 'http://evil.example';
let app: App;

beforeAll(async () => {
  app = await buildServer({
    service: 'cors-test',
    version: '0.0.0',
    description: 'test',
    logger: createLogger({ service: 'cors-test', level: 'silent', pretty: false }),
    metrics: createMetricsRegistry('cors-test'),
    readiness: {},
    corsOrigins: [ALLOWED, 'http://localhost:19006'],
  });
  app.post('/login', { schema: { body: z.object({ email: z.email() }) } }, async () => ok('in'));
  app.get('/limited', async (_request, reply) => {
    reply.header('retry-after', '7');
    throw new HttpError(429, 'Too many requests', [{ field: 'rate-limit', message: 'slow down' }]);
  });
  app.get('/boom', async () => {
    throw new Error('internals');
  });
  app.get('/internal', { preHandler: apiKeyGuard(['k1'], ['x-api-key']) }, async () => ok('in'));
  await app.ready();
});
afterAll(async () => app.close());

const preflight = (url: string, origin: string, method = 'POST') =>
  app.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type,authorization' },
  });

describe('CORS', () => {
  it('answers an allowed preflight with 204, the methods, the headers and a max-age', async () => {
    const res = await preflight('/login', ALLOWED);
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, PUT, PATCH, DELETE');
    const allowedHeaders = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    expect(allowedHeaders).toEqual(['content-type', 'authorization', 'x-request-id']);
    expect(allowedHeaders).not.toContain('x-api-key');
    expect(allowedHeaders).not.toContain('x-service-api-key');
    expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
    expect(String(res.headers.vary)).toMatch(/origin/i);
  });

  it('puts the CORS headers on successes and on every kind of error', async () => {
    const cases = [
      { method: 'POST' as const, url: '/login', payload: { email: 'a@b.co' }, status: 200 },
      { method: 'POST' as const, url: '/login', payload: { email: 'nope' }, status: 400 },
      { method: 'GET' as const, url: '/internal', status: 401 },
      { method: 'GET' as const, url: '/nowhere', status: 404 },
      { method: 'DELETE' as const, url: '/login', status: 405 },
      { method: 'GET' as const, url: '/limited', status: 429 },
      { method: 'GET' as const, url: '/boom', status: 500 },
      // Answered by the router before any hook runs.
      { method: 'GET' as const, url: '/nowhere/%zz', status: 400 },
    ];
    for (const { status, ...request } of cases) {
      const res = await app.inject({ ...request, headers: { origin: ALLOWED } });
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(status);
      expect(res.headers['access-control-allow-origin'], `${request.method} ${request.url}`).toBe(ALLOWED);
      const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
      for (const name of ['x-request-id', 'retry-after', 'x-ratelimit-remaining']) expect(exposed).toContain(name);
      if (status >= 400) expect(res.json()).toMatchObject({ success: false });
    }
  });

  it('gives a disallowed origin no CORS headers and otherwise serves as before', async () => {
    const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'a@b.co' }, headers: { origin: OTHER } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    const malformed = await app.inject({ method: 'GET', url: '/nowhere/%zz', headers: { origin: OTHER } });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['access-control-allow-origin']).toBeUndefined();

    const pre = await preflight('/login', OTHER);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.statusCode).toBe(405);
    expect(pre.json()).toMatchObject({ success: false, message: 'Method not allowed' });
  });

  it('keeps 404 and 405 for requests without an Origin, OPTIONS included, in the envelope', async () => {
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);
    const options = await app.inject({ method: 'OPTIONS', url: '/login' });
    expect(options.statusCode).toBe(405);
    expect(options.headers.allow).toBe('POST');
    expect(options.json()).toMatchObject({ success: false });
    // An allowed origin's OPTIONS without Access-Control-Request-Method is still answered, not a text/plain 400.
    const loose = await app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: ALLOWED } });
    expect(loose.statusCode).toBe(204);
  });

  it('keeps preflights out of the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, object> }>();
    expect(Object.keys(doc.paths)).not.toContain('*');
    for (const operations of Object.values(doc.paths)) expect(Object.keys(operations)).not.toContain('options');
  });
});

describe('CORS_ORIGINS', () => {
  it('defaults to the apps in development and to none in production', () => {
    expect(corsOrigins(undefined, 'development')).toEqual(DEVELOPMENT_CORS_ORIGINS);
    expect(corsOrigins(undefined, 'test')).toEqual(DEVELOPMENT_CORS_ORIGINS);
    expect(corsOrigins(undefined, 'production')).toEqual([]);
    expect(corsOrigins('', 'development')).toEqual([]);
  });

  it('takes a comma-separated list of exact origins', () => {
    expect(corsOrigins(' https://shop.example , http://localhost:8080,https://shop.example', 'production')).toEqual([
      'https://shop.example',
      'http://localhost:8080',
    ]);
  });

  it('refuses a wildcard and anything that is not an origin, naming each', () => {
    expect(() => corsOrigins('*', 'production')).toThrow(ConfigError);
    expect(() => corsOrigins('https://a.example,*', 'development')).toThrow(/"\*" is not allowed/);
    expect(() => corsOrigins('https://shop.example/', 'production')).toThrow(/"https:\/\/shop.example\/" is not an origin/);
    expect(() => corsOrigins('https://shop.example/app', 'production')).toThrow(/not an origin/);
    expect(() => corsOrigins('shop.example', 'production')).toThrow(/not an origin/);
    expect(() => corsOrigins('ftp://shop.example', 'production')).toThrow(/not an origin/);
  });
});
