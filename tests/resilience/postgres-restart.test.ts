import pg from 'pg';
import { freePort, PostgresServer, privatePostgresUnavailable, ServiceProcess, sleep, uniqueEmail, waitFor } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATHS_ENTRY, CRMS_ENTRY } from '../support/cluster.ts';
import { ATHS_KEY, athsProcessEnv, CRMS_KEY, PASSWORD } from '../support/system.ts';

// Services started before their database, and PostgreSQL restarted under load, on a PostgreSQL server of this
// test's own (never the shared one): see docs/operations.md.
/** Longer than any answer may take: a pool wait (DB_CONNECT_TIMEOUT_MS 2 s) plus reading back a lost write (2 s). */
const REQUEST_DEADLINE_MS = 10_000;
/** A password in the URL (trust authentication ignores it) that must never appear in a log. */
const DB_PASSWORD = 'pw-that-must-not-be-logged';
const DB_TIMEOUTS = { DB_CONNECT_TIMEOUT_MS: '2000', DB_STATEMENT_TIMEOUT_MS: '5000' };
const DEPRECATION = 'already executing a query';
const MAX_REGISTRATIONS = 1_500;

interface Answer {
  email: string;
  status: number | 'error';
  body: { success?: boolean; message?: string; errors?: Array<{ field: string }>; data?: { user?: { _id: string } } };
  detail?: string;
}

async function register(baseUrl: string, email = uniqueEmail('r')): Promise<Answer> {
  try {
    const response = await fetch(`${baseUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, fullName: 'Restart Customer', contactNumber: '0123456789' }),
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    return { email, status: response.status, body: (await response.json()) as Answer['body'] };
  } catch (error) {
    return { email, status: 'error', body: {}, detail: String(error) };
  }
}

const isUnavailableEnvelope = (answer: Answer) =>
  answer.status === 503 &&
  answer.body.success === false &&
  typeof answer.body.message === 'string' &&
  (answer.body.errors ?? []).some((error) => error.field === 'database');

/** The service's request log lines with a 5xx other than 503. */
function serverErrors(service: ServiceProcess): string[] {
  return service
    .logs()
    .split('\n')
    .filter((line) => line.includes('"request completed"'))
    .filter((line) => {
      const status = (JSON.parse(line) as { statusCode: number }).statusCode;
      return status >= 500 && status !== 503;
    });
}

async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

const unavailable = privatePostgresUnavailable();
if (unavailable) console.warn(`PostgreSQL restart tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)(`services and a PostgreSQL that is not up yet, or restarts under load${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let server: PostgresServer;
  const processes: ServiceProcess[] = [];
  const withPassword = (database: string) => server.url(database).replace('postgres@', `postgres:${DB_PASSWORD}@`);

  beforeAll(async () => {
    server = await PostgresServer.start();
    await query(server.url(), 'CREATE DATABASE aths_early');
    await query(server.url(), 'CREATE DATABASE aths');
    await query(server.url(), 'CREATE DATABASE crms');
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await server?.destroy();
  });

  it('starts before its database: /health 200, /health/ready and routes 503 naming it, then serves once it is up', { timeout: 60_000 }, async () => {
    await server.stop('fast');
    const aths = await ServiceProcess.start({
      entry: ATHS_ENTRY,
      waitFor: 'live',
      startTimeoutMs: 30_000,
      env: { DATABASE_URL: withPassword('aths_early'), SERVICE_API_KEYS: ATHS_KEY, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info', ...DB_TIMEOUTS },
    });
    processes.push(aths);
    expect((await fetch(`${aths.url}/health`)).status).toBe(200);
    // Until the first attempt fails the answer says "connecting"; once it has, it names the database as not reachable.
    let ready = await fetch(`${aths.url}/health/ready`);
    expect(ready.status).toBe(503);
    await waitFor(() => aths.logs().includes('database not reachable; retrying'), 10_000, 'a failed attempt');
    ready = await fetch(`${aths.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ success: false, errors: [{ field: 'database', message: expect.stringMatching(/not reachable/) }] });
    const early = await register(aths.url);
    expect(early.status).toBe(503);
    expect(isUnavailableEnvelope(early)).toBe(true);

    await server.start();
    await waitFor(async () => (await fetch(`${aths.url}/health/ready`)).status === 200, 20_000, 'ATHS ready once PostgreSQL is up');
    const later = await register(aths.url);
    expect(later.status).toBe(201);
    const logs = aths.logs();
    expect(logs).toContain('database not reachable; retrying');
    expect(logs).not.toContain(DB_PASSWORD);
    await aths.stop();
    expect(aths.exitCode).toBe(0);
  });

  it('stops cleanly on SIGTERM while it is still waiting for its database', { timeout: 30_000 }, async () => {
    const crms = await ServiceProcess.start({
      entry: CRMS_ENTRY,
      waitFor: 'live',
      env: { DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:${await freePort()}/crms`, SERVICE_API_KEYS: CRMS_KEY, ATHS_SERVICE_API_KEY: ATHS_KEY, ...DB_TIMEOUTS },
    });
    processes.push(crms);
    await waitFor(() => crms.logs().includes('database not reachable; retrying'), 10_000, 'a failed attempt');
    const started = Date.now();
    await crms.stop();
    expect(crms.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers 201 or 503 through a PostgreSQL restart under registration load, then provisions every 201 exactly once', { timeout: 90_000 }, async () => {
    const [athsPort, crmsPort] = await Promise.all([freePort(), freePort()]);
    const [crms, aths] = await Promise.all([
      ServiceProcess.start({
        entry: CRMS_ENTRY,
        port: crmsPort,
        startTimeoutMs: 60_000,
        env: {
          DATABASE_URL: withPassword('crms'),
          SERVICE_API_KEYS: CRMS_KEY,
          ATHS_BASE_URL: `http://127.0.0.1:${athsPort}`,
          ATHS_SERVICE_API_KEY: ATHS_KEY,
          LOG_LEVEL: 'info',
          ...DB_TIMEOUTS,
        },
      }),
      ServiceProcess.start({
        entry: ATHS_ENTRY,
        port: athsPort,
        startTimeoutMs: 60_000,
        env: {
          ...athsProcessEnv(withPassword('aths'), `http://127.0.0.1:${crmsPort}`),
          LOG_LEVEL: 'info',
          PROVISIONING_LEASE_MS: '5000',
          ...DB_TIMEOUTS,
        },
      }),
    ]);
    processes.push(crms, aths);

    // A bounded closed loop: a few clients registering one after the other until told to stop (or 1,500 in all).
    const answers: Answer[] = [];
    let stopLoad = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stopLoad && answers.length < MAX_REGISTRATIONS) {
        answers.push(await register(aths.url));
        await sleep(10);
      }
    });
    const created = () => answers.filter((answer) => answer.status === 201).length;
    const refused = () => answers.filter((answer) => answer.status === 503).length;
    const moreCreated = async (count: number, what: string) => {
      const target = created() + count;
      await waitFor(() => created() >= target || answers.length >= MAX_REGISTRATIONS, 30_000, what);
    };

    try {
      await moreCreated(15, 'registrations before the restart');
      // pg_ctl restart -m fast: open transactions are rolled back and every connection is cut, then it starts again.
      await server.restart('fast');
      await moreCreated(15, 'registrations after the restart');
      // A longer outage, so that requests certainly meet it: stopped until a 503 has been answered.
      const refusedBefore = refused();
      await server.stop('fast');
      await waitFor(() => refused() > refusedBefore, 15_000, 'a 503 during the outage');
      await server.start();
      await moreCreated(15, 'registrations after the database came back');
    } finally {
      stopLoad = true;
      await Promise.all(clients);
    }

    // Every answer: a 201, or a 503 in the envelope naming the database. No 500, no hang, no dropped connection.
    const unexpected = answers.filter((answer) => answer.status !== 201 && !isUnavailableEnvelope(answer));
    expect(unexpected).toEqual([]);
    expect(refused()).toBeGreaterThan(0);
    expect(aths.running && crms.running).toBe(true);

    // Every 201 reaches CRMS exactly once; no 503 hides a committed account.
    const userIds = answers.filter((answer) => answer.status === 201).map((answer) => answer.body.data!.user!._id);
    const countsOf = async () =>
      query<{ user_id: string; n: number }>(server.url('crms'), 'SELECT user_id, count(*)::int AS n FROM customers WHERE user_id = ANY($1) GROUP BY user_id', [userIds]);
    await waitFor(async () => (await countsOf()).length === userIds.length, 30_000, `${userIds.length} CRMS records`);
    expect((await countsOf()).filter((row) => row.n !== 1)).toEqual([]);
    const refusedEmails = answers.filter((answer) => answer.status === 503).map((answer) => answer.email.toLowerCase());
    expect(await query(server.url('aths'), 'SELECT email FROM users WHERE lower(email) = ANY($1)', [refusedEmails])).toEqual([]);

    // The outbox drains completely, and both LISTEN connections are back.
    await waitFor(
      async () => (await query(server.url('aths'), "SELECT 1 FROM customer_outbox WHERE state <> 'delivered'")).length === 0,
      30_000,
      'every outbox row delivered',
    );
    await waitFor(
      async () => (await query(server.url(), "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")).length >= 2,
      15_000,
      'ATHS and CRMS listening again',
    );

    // New registrations provision again.
    const after = await Promise.all([register(aths.url), register(aths.url)]);
    expect(after.map((answer) => answer.status)).toEqual([201, 201]);
    const newIds = after.map((answer) => answer.body.data!.user!._id);
    await waitFor(
      async () => (await query(server.url('crms'), 'SELECT 1 FROM customers WHERE user_id = ANY($1)', [newIds])).length === 2,
      15_000,
      'new registrations in CRMS',
    );

    // Neither service answered anything but 503 among the 5xx: CRMS's answers to ATHS's deliveries included.
    for (const service of [aths, crms]) expect(serverErrors(service)).toEqual([]);
    for (const service of [aths, crms]) {
      expect(service.logs()).not.toContain(DB_PASSWORD);
      expect(service.logs()).not.toContain(DEPRECATION);
    }
  });
});
