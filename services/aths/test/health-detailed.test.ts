import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import type { AthsApp } from '../src/app.ts';
import { buildTestApp, register, startAths, startSmtp, type Smtp, type TestAths } from './helpers.ts';

const SMTP_PASSWORD = 'smtp-pass-S3cret-do-not-show';
const PRODUCTION_KEY = 'production-service-key-0123456789abcdef';

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never says a word (an SMTP server that hangs before its greeting). */
async function silentServer() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const health = (app: AthsApp) => app.inject({ method: 'GET', url: '/health/detailed' });

describe.each(testDatabaseDrivers())('GET /health/detailed on %s', (driver) => {
  let aths: TestAths;
  let smtp: Smtp;
  const extraApps: AthsApp[] = [];

  /** Another ATHS instance on the same database with its own configuration. */
  async function instance(env: Record<string, string>): Promise<AthsApp> {
    const app = await buildTestApp(aths.database, env);
    extraApps.push(app);
    return app;
  }

  beforeAll(async () => {
    smtp = await startSmtp();
    aths = await startAths(driver, { SMTP_URL: smtp.url, CRMS_SERVICE_API_KEY: PRODUCTION_KEY });
  });
  afterAll(async () => {
    for (const app of extraApps) await app.close();
    await aths?.close();
    await smtp?.close();
  });

  it('answers 200 with every check when all is fine; public, not cached, and one SMTP check serves many calls', async () => {
    const before = smtp.connections;
    const res = await health(aths.app);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ success: true, message: 'All checks passed', data: { status: 'ok' } });
    expect(body.data.checks).toEqual({
      database: { status: 'ok', message: 'answers', latencyMs: expect.any(Number) },
      // No CRMS_BASE_URL in this instance: queued, not delivered, and said so; fine while nothing waits too long.
      provisioning: {
        status: 'disabled',
        message: expect.stringContaining('CRMS_BASE_URL is not set'),
        delivery: 'not-configured',
        targetFailing: false,
        pending: 0,
        dead: 0,
        oldestPendingAgeSeconds: 0,
        maxPendingAgeSeconds: 60,
      },
      mail: { status: 'ok', message: 'the mail server accepts connections', transport: 'smtp', checkedAt: expect.any(String) },
    });
    expect(smtp.connections).toBe(before + 1);
    for (let i = 0; i < 5; i++) expect((await health(aths.app)).statusCode).toBe(200);
    expect(smtp.connections).toBe(before + 1);
    expect(res.body).not.toContain(PRODUCTION_KEY);
    expect(res.body).not.toContain(smtp.url);
  });

  it('answers 503 naming mail when the SMTP server is unreachable, without its URL or password', async () => {
    const port = await closedPort();
    const app = await instance({ SMTP_URL: `smtp://shop-mailer:${SMTP_PASSWORD}@127.0.0.1:${port}` });
    const res = await health(app);
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toMatchObject({ success: false, message: 'Failing: mail', errors: [{ field: 'mail', message: expect.stringContaining('cannot be reached') }] });
    expect(body.errors).toHaveLength(1);
    expect(body.data.status).toBe('failing');
    expect(body.data.checks.mail).toMatchObject({ status: 'failing', transport: 'smtp' });
    expect(body.data.checks.database.status).toBe('ok');
    for (const secret of [SMTP_PASSWORD, 'shop-mailer', String(port)]) expect(res.body).not.toContain(secret);
  });

  it('never hangs: an SMTP server that does not greet fails the check after its timeout', async () => {
    const silent = await silentServer();
    try {
      const app = await instance({ SMTP_URL: `smtp://127.0.0.1:${silent.port}` });
      const started = Date.now();
      const res = await health(app);
      expect(Date.now() - started).toBeLessThan(7_000);
      expect(res.statusCode).toBe(503);
      expect(res.json().errors).toEqual([{ field: 'mail', message: expect.stringContaining('no answer within 5000 ms') }]);
    } finally {
      await silent.close();
    }
  }, 15_000);

  it('log mode (no SMTP_URL) is fine outside production and failing in production', async () => {
    const development = await instance({ SMTP_URL: '' });
    const dev = await health(development);
    expect(dev.statusCode).toBe(200);
    expect(dev.json().data.checks.mail).toEqual({
      status: 'ok',
      transport: 'log',
      checkedAt: null,
      message: expect.stringContaining('written to the log'),
    });

    const production = await instance({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      SMTP_URL: '',
      SERVICE_API_KEYS: PRODUCTION_KEY,
      CRMS_BASE_URL: `http://127.0.0.1:${await closedPort()}`,
      CRMS_SERVICE_API_KEY: PRODUCTION_KEY,
      PROVISIONING_ENABLED: 'false',
    });
    const prod = await health(production);
    expect(prod.statusCode).toBe(503);
    expect(prod.json().errors).toEqual([{ field: 'mail', message: 'SMTP_URL is not set: no mail can be delivered' }]);
    expect(prod.json().data.checks.provisioning).toMatchObject({ status: 'disabled', delivery: 'disabled' });
    expect(prod.body).not.toContain(PRODUCTION_KEY);
  });

  it('answers 503 naming provisioning when a pending message is older than HEALTH_MAX_PENDING_AGE', async () => {
    const app = await instance({ HEALTH_MAX_PENDING_AGE: '1s' });
    await register(app);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const res = await health(app);
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.errors).toEqual([{ field: 'provisioning', message: expect.stringMatching(/oldest of \d+ pending messages has waited \d+ s \(limit 1 s\)/) }]);
    expect(body.data.checks.provisioning).toMatchObject({ status: 'failing', delivery: 'not-configured', targetFailing: false, maxPendingAgeSeconds: 1 });
    expect(body.data.checks.provisioning.pending).toBeGreaterThanOrEqual(1);
    expect(body.data.checks.provisioning.oldestPendingAgeSeconds).toBeGreaterThan(1);
    // The same outbox seen by an instance with the default limit (60 s) is fine.
    expect((await health(aths.app)).statusCode).toBe(200);
  });

  it('is documented in OpenAPI with its 200 and 503 shapes', async () => {
    const doc = (await aths.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const operation = doc.paths['/health/detailed'].get;
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '503']));
    const failing = operation.responses['503'].content['application/json'].schema;
    expect(Object.keys(failing.properties)).toEqual(['success', 'message', 'errors', 'data']);
    expect(Object.keys(failing.properties.data.properties.checks.properties)).toEqual(['database', 'provisioning', 'mail', 'redis']);
  });
});
