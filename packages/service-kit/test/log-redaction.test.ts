import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createMetricsRegistry, loggerOptions, ok, openDatabase, urlForLog, type App, type DatabaseHandle } from '../src/index.ts';
import { createTestDatabase, testDatabaseDrivers, type TestDatabase } from '../src/testing/index.ts';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

/** Every secret a test sends; none may appear in any log line, in any form JSON gives it. */
const secrets: string[] = [];
const secret = (label: string) => {
  const value = `${label}-${Math.random().toString(36).slice(2, 12)}`;
  secrets.push(value);
  return value;
};

describe.each(testDatabaseDrivers())('log lines on %s', (driver) => {
  const lines: string[] = [];
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown> & { err?: Record<string, unknown> });
  let app: App;
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  let port: number;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, 'kitlog');
    database = await openDatabase({ url: testDb.url, defaultDir: '/nonexistent', migrationsFolder, migrationsTable: 'kit_log_migrations' });
    await database.db.execute(
      sql`CREATE TABLE accounts (email text UNIQUE NOT NULL, password_hash text NOT NULL CHECK (length(password_hash) < 40), visits integer)`,
    );
    // The real logger options, writing to memory: what production would print.
    const logger = pino(loggerOptions({ service: 'kit-log', level: 'trace', pretty: false }), { write: (line: string) => void lines.push(line) });
    app = await buildServer({ service: 'kit-log', version: '0.0.0', description: 'test', logger, metrics: createMetricsRegistry('kit-log'), readiness: {} });
    app.post('/accounts', async (request) => {
      const { email, passwordHash } = request.body as { email: string; passwordHash: string };
      await database.db.execute(sql`INSERT INTO accounts (email, password_hash) VALUES (${email}, ${passwordHash})`);
      return ok('Created');
    });
    app.post('/visits', async (request) => {
      const { visits } = request.body as { visits: string };
      await database.db.execute(sql`UPDATE accounts SET visits = ${visits}::integer`);
      return ok('Counted');
    });
    app.get('/echo', async () => ok('Echo'));
    app.get('/callback', async (request) => {
      throw new Error(`upstream refused https://pay.example/cb?code=${(request.query as { code: string }).code}`);
    });
    // A handler bug Fastify reports itself, quoting the raw URL.
    app.get('/twice', async (_request, reply) => {
      void reply.send(ok('First'));
      return ok('Second');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
    await testDb?.drop();
  });

  it('a failing query is logged with its SQLSTATE, constraint and statement, never its parameters or detail', async () => {
    const email = `${secret('person')}@example.com`;
    const hash = `$argon2id$v=19$m=19456,t=2,p=1$${secret('hash')}`;
    const first = await app.inject({ method: 'POST', url: '/accounts', payload: { email, passwordHash: 'short' } });
    expect(first.statusCode).toBe(200);
    // Unique violation: PostgreSQL's detail is `Key (email)=(<the address>) already exists.`
    const duplicate = await app.inject({ method: 'POST', url: '/accounts', payload: { email, passwordHash: 'short' } });
    expect(duplicate.statusCode).toBe(500);
    // Check violation: the detail is `Failing row contains (<address>, <hash>, null).`
    const longHash = await app.inject({ method: 'POST', url: '/accounts', payload: { email: `x${email}`, passwordHash: hash } });
    expect(longHash.statusCode).toBe(500);

    const failures = entries().filter((entry) => entry.msg === 'unhandled error');
    expect(failures).toHaveLength(2);
    const unique = failures[0]!.err!;
    const check = failures[1]!.err!;
    expect(unique).toMatchObject({ type: 'DrizzleQueryError', query: 'INSERT INTO accounts (email, password_hash) VALUES ($1, $2)' });
    expect(unique.message).toBe('Failed query: INSERT INTO accounts (email, password_hash) VALUES ($1, $2) (parameters withheld)');
    expect(unique.cause).toMatchObject({ code: '23505', constraint: 'accounts_email_key', message: 'duplicate key value violates unique constraint "accounts_email_key"' });
    expect(check.cause).toMatchObject({ code: '23514', constraint: 'accounts_password_hash_check', table: 'accounts' });
    for (const err of [unique, check]) {
      expect(Object.keys(err)).not.toContain('params');
      expect(Object.keys(err.cause as object)).not.toContain('detail');
    }
    const text = lines.join('\n');
    expect(text).not.toContain(email);
    expect(text).not.toContain('$argon2id$');
  });

  it('a value PostgreSQL quotes back in its message (and its `where`) is withheld, identifiers are kept', async () => {
    const visits = secret('not-a-number');
    const res = await app.inject({ method: 'POST', url: '/visits', payload: { visits } });
    expect(res.statusCode).toBe(500);
    const err = entries().find((entry) => entry.msg === 'unhandled error' && entry.err?.query === 'UPDATE accounts SET visits = $1::integer')!.err!;
    expect(err.cause).toMatchObject({ code: '22P02', message: 'invalid input syntax for type integer: "[redacted]"' });
    expect(lines.join('\n')).not.toContain(visits);
  });

  it('URLs lose every query value and any path segment holding an e-mail address, in every line', async () => {
    const apiKey = secret('key');
    const token = secret('token');
    const searched = `${secret('searched')}@example.com`;
    const echo = await app.inject({ method: 'GET', url: `/echo?x-api-key=${apiKey}&token=${token}&q=${encodeURIComponent(searched)}&page=2` });
    expect(echo.statusCode).toBe(200);
    expect(entries().find((entry) => entry.msg === 'request completed' && String(entry.url).startsWith('/echo'))?.url).toBe(
      '/echo?x-api-key=[redacted]&token=[redacted]&q=[redacted]&page=[redacted]',
    );
    const byEmail = await app.inject({ method: 'GET', url: `/users/email/${encodeURIComponent(searched)}` });
    expect(byEmail.statusCode).toBe(404);
    expect(entries().some((entry) => entry.url === '/users/email/[redacted]')).toBe(true);

    // A 500 whose message quotes a URL: the message, the stack and the reply's log line.
    const code = secret('code');
    expect((await app.inject({ method: 'GET', url: `/callback?code=${code}` })).statusCode).toBe(500);
    const failed = entries().find((entry) => entry.msg === 'unhandled error' && String(entry.err?.message).includes('pay.example'))!;
    expect(failed.err!.message).toBe('upstream refused https://pay.example/cb?code=[redacted]');
    expect(String(failed.err!.stack)).toMatch(/^Error: upstream refused https:\/\/pay\.example\/cb\?code=\[redacted\]\n {4}at /);

    // Fastify's own warning names the raw URL in its message.
    const twice = secret('twice');
    await app.inject({ method: 'GET', url: `/twice?token=${twice}` });
    const warning = entries().find((entry) => String(entry.msg).startsWith('Reply was already sent'));
    expect(warning?.msg).toContain('"/twice?token=[redacted]"');

    for (const value of [apiKey, token, searched, encodeURIComponent(searched), code, twice]) expect(lines.join('\n')).not.toContain(value);
  });

  it('Fastify\'s request serializer logs method and the safe URL only', () => {
    const token = secret('serialized');
    app.log.error({ req: { method: 'GET', url: `/x?token=${token}`, headers: { authorization: `Bearer ${token}` } } }, 'with a request');
    const entry = entries().find((line) => line.msg === 'with a request')!;
    expect(entry.req).toEqual({ method: 'GET', url: '/x?token=[redacted]' });
  });

  it('oversized headers: 431 in the envelope with x-request-id; the raw request (its keys) is not logged', async () => {
    const apiKey = secret('header-key');
    const bearer = secret('header-bearer');
    const res = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        path: `/echo?token=${secret('header-query')}`,
        headers: { 'x-api-key': apiKey, authorization: `Bearer ${bearer}`, 'x-padding': 'p'.repeat(20_000) },
      });
      req.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(res.body)).toEqual({
      success: false,
      message: 'Request headers are too large',
      errors: [{ field: 'header', message: 'The request headers exceed 16 KB' }],
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = entries().find((entry) => entry.msg === 'request refused by the HTTP parser');
    expect(refused).toMatchObject({ requestId: res.headers['x-request-id'], statusCode: 431, code: 'HPE_HEADER_OVERFLOW' });
  });

  it('no line holds any secret a test sent', () => {
    expect(lines.length).toBeGreaterThan(10);
    const text = lines.join('\n');
    for (const value of secrets) expect(text, value).not.toContain(value);
  });
});

describe('urlForLog', () => {
  it('keeps parameter names and replaces every value', () => {
    expect(urlForLog('/api/customers?page=1&limit=20')).toBe('/api/customers?page=[redacted]&limit=[redacted]');
    expect(urlForLog('/api/auth/verify-email')).toBe('/api/auth/verify-email');
    expect(urlForLog('/x?mytoken=1&token=')).toBe('/x?mytoken=[redacted]&token=[redacted]');
    expect(urlForLog('/x?filter[status]=a&&b=c#frag')).toBe('/x?filter[status]=[redacted]&&b=[redacted]');
  });

  it('replaces a bare word, an unusual name and a fragment, which may be secrets themselves', () => {
    expect(urlForLog('/x?sk_live_0123456789')).toBe('/x?[redacted]');
    expect(urlForLog(`/x?${'n'.repeat(65)}=1`)).toBe('/x?[redacted]');
    expect(urlForLog('/x?a%20b=1')).toBe('/x?[redacted]');
    expect(urlForLog('/x#access_token=abc')).toBe('/x');
  });

  it('replaces path segments holding an e-mail address, raw or percent-encoded', () => {
    expect(urlForLog('/api/internal/user/email/a@b.co')).toBe('/api/internal/user/email/[redacted]');
    expect(urlForLog('/api/internal/user/email/a%40b.co?x=1')).toBe('/api/internal/user/email/[redacted]?x=[redacted]');
  });
});
