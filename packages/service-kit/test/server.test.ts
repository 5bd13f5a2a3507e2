import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import helmet from 'helmet';
import { z } from 'zod';
import { apiKeyGuard, buildServer, createLogger, createMetricsRegistry, ok, notFound, type App } from '../src/index.ts';

let app: App;
let ready = true;

beforeAll(async () => {
  app = await buildServer({
    service: 'kit-test',
    version: '0.0.0',
    description: 'test',
    logger: createLogger({ service: 'kit-test', level: 'silent', pretty: false }),
    metrics: createMetricsRegistry('kit-test'),
    readiness: {
      database: async () => {
        if (!ready) throw new Error('down');
      },
    },
  });
  app.post(
    '/things/:id',
    {
      schema: {
        params: z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hexadecimal id') }),
        body: z.object({
          email: z.email(),
          name: z.string().min(2).max(5),
          address: z.object({ city: z.string() }).optional(),
          kind: z.enum(['A', 'B']).optional(),
        }),
      },
    },
    async (request) => ok('Created', { id: request.params.id, email: request.body.email }),
  );
  app.get('/missing', async () => {
    throw notFound('Thing not found', 'thingId');
  });
  app.get('/boom', async () => {
    throw new Error('secret internals');
  });
  // A handler returning more than its schema documents, and one missing a required field.
  const account = z.object({ success: z.boolean(), message: z.string(), data: z.object({ email: z.string(), lastSeen: z.string().nullable() }) });
  app.get('/leaky', { schema: { response: { 200: account } } }, async () => ok('Here', { email: 'a@b.co', lastSeen: null, passwordHash: 'secret-hash' } as never));
  app.get('/short', { schema: { response: { 200: account } } }, async () => ok('Here', { lastSeen: null } as never));
  app.get('/internal', { preHandler: apiKeyGuard(['k1', 'k2'], ['x-service-api-key', 'x-api-key']) }, async () => ok('in'));
  await app.ready();
});
afterAll(async () => app.close());

const id = 'a'.repeat(24);

describe('shared HTTP behaviour', () => {
  it('answers success in the envelope and echoes x-request-id', async () => {
    const res = await app.inject({ method: 'POST', url: `/things/${id}`, payload: { email: 'a@b.co', name: 'Al' }, headers: { 'x-request-id': 'abc-123' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.json()).toEqual({ success: true, message: 'Created', data: { id, email: 'a@b.co' } });
  });

  it('writes only the documented fields of an answer, in order, and a 500 when a required one is missing', async () => {
    const leaky = await app.inject({ method: 'GET', url: '/leaky' });
    expect(leaky.body).toBe('{"success":true,"message":"Here","data":{"email":"a@b.co","lastSeen":null}}');
    const short = await app.inject({ method: 'GET', url: '/short' });
    expect(short.statusCode).toBe(500);
    expect(short.json()).toMatchObject({ success: false, errors: [{ field: 'server' }] });
  });

  it('generates a request id when none or an unsafe one is sent', async () => {
    const res = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\nwith newline' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses U+0000 anywhere in path, query or body with a 400 naming where, and lets an escaped backslash through', async () => {
    const refused = async (url: string, payload: string) => {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
      expect(res.statusCode, `${url} ${payload}`).toBe(400);
      const body = res.json();
      expect(body.message).toBe('Validation failed');
      return body.errors[0].field as string;
    };
    const good = JSON.stringify({ email: 'a@b.co', name: 'abc' });
    expect(await refused(`/things/${id}`, '{"email":"a@b.co","name":"ab\\u0000","address":{"city":"x"}}')).toBe('body -> name');
    expect(await refused(`/things/${id}`, '{"email":"a@b.co","name":"abc","address":{"ci\\u0000ty":"x"}}')).toBe('body -> address');
    expect(await refused(`/things/${id}?q=a%00b`, good)).toBe('query -> q');
    expect(await refused(`/things/a%00${'a'.repeat(22)}`, good)).toBe('path -> id');
    const escaped = await app.inject({
      method: 'POST',
      url: `/things/${id}?q=%2500`,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: '{"email":"a@b.co","name":"abc","address":{"city":"\\\\u0000"}}',
    });
    expect(escaped.statusCode).toBe(200);
  });

  it('reports every validation problem with location -> path', async () => {
    const res = await app.inject({ method: 'POST', url: `/things/${id}`, payload: { email: 'nope', name: 'x', address: { city: 3 }, kind: 'C' } });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.success).toBe(false);
    expect(body.message).toBe('Validation failed');
    expect(body.errors).toEqual(
      expect.arrayContaining([
        { field: 'body -> email', message: 'value is not a valid email address' },
        { field: 'body -> name', message: 'must be at least 2 characters' },
        { field: 'body -> address -> city', message: 'value must be a string' },
        { field: 'body -> kind', message: 'must be one of: A, B' },
      ]),
    );
  });

  it('names missing fields and bad path params', async () => {
    const missing = await app.inject({ method: 'POST', url: `/things/${id}`, payload: {} });
    expect(missing.json().errors).toContainEqual({ field: 'body -> email', message: 'field required' });
    const badId = await app.inject({ method: 'POST', url: '/things/xyz', payload: { email: 'a@b.co', name: 'Al' } });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().errors).toEqual([{ field: 'path -> id', message: 'must be a 24-character hexadecimal id' }]);
  });

  it('answers malformed JSON, wrong media type and oversized bodies with 4xx envelopes', async () => {
    const badJson = await app.inject({ method: 'POST', url: `/things/${id}`, payload: '{"email":', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ success: false, message: 'Request body is not valid JSON' });
    const text = await app.inject({ method: 'POST', url: `/things/${id}`, payload: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(text.json().success).toBe(false);
    const big = await app.inject({ method: 'POST', url: `/things/${id}`, payload: { email: 'a@b.co', name: 'x'.repeat(200_000) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().success).toBe(false);
  });

  it('answers 404 for unknown routes and 405 for a known path with the wrong method', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ success: false, message: 'Route not found' });
    const wrong = await app.inject({ method: 'DELETE', url: `/things/${id}` });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect(wrong.json().success).toBe(false);
  });

  it('sets the JSON API security headers on answers and errors alike, and helmet\'s document headers on /docs', async () => {
    const api = {
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-resource-policy': 'same-origin',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    };
    for (const url of ['/health', '/nowhere', '/boom']) {
      const response = await app.inject({ method: 'GET', url });
      for (const [name, value] of Object.entries(api)) expect(response.headers[name], `${url} ${name}`).toBe(value);
      expect(response.headers['x-dns-prefetch-control'], url).toBeUndefined();
    }
    // helmet as its documentation shows it without a framework, on a plain Node server: the document headers.
    const runHelmet = helmet();
    const reference = createServer((req, res) => runHelmet(req, res, () => res.end()));
    await new Promise<void>((resolve) => reference.listen(0, '127.0.0.1', resolve));
    const answer = await fetch(`http://127.0.0.1:${(reference.address() as AddressInfo).port}/`);
    await answer.arrayBuffer();
    await new Promise((resolve) => reference.close(resolve));
    const documentHeaders = [...answer.headers].filter(([name]) => !['content-length', 'date', 'connection', 'keep-alive', 'content-security-policy'].includes(name));
    expect(documentHeaders.length).toBeGreaterThan(9);
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBe(200);
    for (const [name, value] of documentHeaders) expect(docs.headers[name], `/docs ${name}`).toBe(value);
    // swagger-ui's own policy, which lets its scripts and styles run.
    expect(docs.headers['content-security-policy']).toContain('script-src');
  });

  it('turns HttpError into its status and hides internals of unexpected errors', async () => {
    const missing = await app.inject({ method: 'GET', url: '/missing' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ success: false, message: 'Thing not found', errors: [{ field: 'thingId', message: 'Thing not found' }] });
    const boom = await app.inject({ method: 'GET', url: '/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain('secret internals');
    expect(boom.json().errors).toEqual([{ field: 'server', message: 'An unexpected error occurred. Please try again later.' }]);
  });

  it('accepts any of several API keys on either header and rejects others with the integration guide\'s body', async () => {
    for (const headers of [{ 'x-api-key': 'k1' }, { 'x-service-api-key': 'k2' }]) {
      expect((await app.inject({ method: 'GET', url: '/internal', headers })).statusCode).toBe(200);
    }
    for (const headers of [{}, { 'x-api-key': 'k3' }, { 'x-api-key': '' }]) {
      const res = await app.inject({ method: 'GET', url: '/internal', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        success: false,
        message: 'Invalid or missing service API key',
        errors: [{ field: 'authentication', message: 'Service API key authentication required' }],
      });
    }
  });

  it('serves health, readiness, metrics and OpenAPI', async () => {
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.json()).toMatchObject({ success: true, service: 'kit-test', version: '0.0.0' });
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    ready = false;
    const notReady = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().errors).toEqual([{ field: 'database', message: 'down' }]);
    ready = true;
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('http_request_duration_seconds');
    const openapi = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(openapi.json().paths['/things/{id}']).toBeDefined();
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBeLessThan(400);
  });
});
