import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { getTableConfig } from 'drizzle-orm/pg-core';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  enqueue,
  failureFromError,
  failureFromResponse,
  isRetryableStatus,
  isSuccessStatus,
  openDatabase,
  outboxEnvShape,
  outboxSettingsFrom,
  outboxChannel,
  outboxSummary,
  OutboxWorker,
  requeueOutbox,
  rowsOf,
  ServiceUnavailableError,
  startOutboxWorker,
  type Database,
  type DatabaseHandle,
  type DeliveryOutcome,
  type OutboxHandler,
  type OutboxMessage,
  type OutboxWorkerOptions,
} from '../src/index.ts';
import { createTestDatabase, sleep, testDatabaseDrivers, waitFor, type TestDatabase } from '../src/testing/index.ts';
import { testOutbox } from './fixtures/outbox/schema.ts';

const migrationsFolder = fileURLToPath(new URL('./fixtures/outbox/migrations', import.meta.url));
const open = (url: string) =>
  openDatabase({ url, defaultDir: '/nonexistent', migrationsFolder, migrationsTable: 'kit_outbox_test_migrations' });

/** A pino logger whose JSON lines are kept for assertions. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info', base: { service: 'kit-test' } }, stream), lines };
}

const delivered = (result?: unknown): DeliveryOutcome => ({ outcome: 'delivered', status: 200, result });


/** While true, every statement through a flakyDatabase fails as if the database were unreachable. */
const outage = { down: false };
/** One proxy per driver client: PGlite's prepared statements are remembered per client object. */
const flakyClients = new WeakMap<object, object>();

function failing<T extends object>(target: T, methods: readonly string[], replace?: (property: string | symbol) => unknown): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (methods.includes(property as string) && outage.down) return async () => Promise.reject(new Error('database unreachable'));
      const replaced = replace?.(property);
      if (replaced !== undefined) return replaced;
      const value = Reflect.get(object, property, receiver);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** The database as the worker sees it, failing while `outage.down`: drizzle's execute and the client's own calls (runStatement's). */
function flakyDatabase(db: Database): Database {
  const raw = (db as unknown as { $client: object }).$client;
  let client = flakyClients.get(raw);
  if (!client) flakyClients.set(raw, (client = failing(raw, ['query', 'exec'])));
  return failing(db, ['execute'], (property) => (property === '$client' ? client : undefined));
}

describe('backoff', () => {
  const policy = { baseMs: 500, maxMs: 300_000, jitter: 0.5 };

  it('doubles from the base and stays within [d × (1 − jitter), d]', () => {
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (failures - 1));
      expect(backoffDelay(failures, policy, () => 0)).toBe(ceiling);
      expect(backoffDelay(failures, policy, () => 1)).toBe(Math.round(ceiling / 2));
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(failures, policy);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('is capped, also for huge attempt counts, and treats 0 failures like the first', () => {
    expect(backoffDelay(10, policy, () => 0)).toBe(256_000);
    expect(backoffDelay(11, policy, () => 0)).toBe(300_000);
    expect(backoffDelay(5_000, policy, () => 0)).toBe(300_000);
    expect(backoffDelay(0, policy, () => 0)).toBe(500);
  });

  it('clamps the jitter share to 0..1 and defaults to 0.5 s × 2^n capped at 5 min', () => {
    expect(backoffDelay(3, { ...policy, jitter: 0 }, () => 0.9)).toBe(2_000);
    expect(backoffDelay(3, { ...policy, jitter: 7 }, () => 1)).toBe(0);
    expect(backoffDelay(3, { ...policy, jitter: -1 }, () => 1)).toBe(2_000);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 500, maxMs: 300_000, jitter: 0.5 });
  });
});

describe('delivery outcomes', () => {
  it('retries 408, 429 and 5xx; dead-letters other 4xx with the body', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 422].some(isRetryableStatus)).toBe(false);
    expect(isSuccessStatus(200)).toBe(true);
    expect(isSuccessStatus(204)).toBe(true);
    expect(isSuccessStatus(301)).toBe(false);
    expect(isSuccessStatus(199)).toBe(false);
    expect(failureFromResponse({ status: 503, body: 'Service Unavailable' })).toEqual({
      outcome: 'retry',
      status: 503,
      error: 'HTTP 503: Service Unavailable',
    });
    const dead = failureFromResponse({ status: 401, body: { success: false, message: 'Invalid or missing service API key' } });
    expect(dead).toMatchObject({ outcome: 'dead', status: 401 });
    expect(dead.outcome !== 'delivered' && dead.error).toContain('Invalid or missing service API key');
    const long = failureFromResponse({ status: 400, body: 'x'.repeat(5_000) });
    expect(long.outcome !== 'delivered' && long.error.length).toBeLessThan(1_100);
  });

  it('treats any thrown error as retryable', () => {
    expect(failureFromError(new ServiceUnavailableError('POST http://x/y: no answer within 5000 ms', true))).toEqual({
      outcome: 'retry',
      error: 'POST http://x/y: no answer within 5000 ms',
    });
    expect(failureFromError(new TypeError('boom'))).toEqual({ outcome: 'retry', error: 'TypeError: boom' });
    expect(failureFromError('plain')).toEqual({ outcome: 'retry', error: 'plain' });
  });
});

describe('outbox table and settings', () => {
  it('declares the due and pending-key (partial) and key indexes', () => {
    const config = getTableConfig(testOutbox);
    expect(config.name).toBe('kit_test_outbox');
    expect(config.indexes.map((index) => index.config.name).sort()).toEqual([
      'kit_test_outbox_due_idx',
      'kit_test_outbox_key_idx',
      'kit_test_outbox_pending_key_idx',
      'kit_test_outbox_state_idx',
    ]);
    for (const partial of ['kit_test_outbox_due_idx', 'kit_test_outbox_pending_key_idx']) {
      expect(config.indexes.find((index) => index.config.name === partial)!.config.where).toBeDefined();
    }
  });

  it('reads prefixed variables with production defaults', () => {
    const schema = z.object(outboxEnvShape('DELIVERY'));
    const parsed = schema.parse({ DELIVERY_CONCURRENCY: '4', DELIVERY_BACKOFF_JITTER: '0.2', DELIVERY_ENABLED: 'false' });
    expect(outboxSettingsFrom(parsed, 'DELIVERY')).toEqual({
      enabled: false,
      concurrency: 4,
      backoff: { baseMs: 500, maxMs: 300_000, jitter: 0.2 },
      pollIntervalMs: 1_000,
      probeIntervalMs: 1_000,
      circuitThreshold: 3,
      leaseMs: 30_000,
      timeoutMs: 5_000,
    });
    // A config object that never went through the schema gets the defaults.
    expect(outboxSettingsFrom({}, 'OTHER')).toMatchObject({ enabled: true, concurrency: 32, backoff: DEFAULT_BACKOFF, timeoutMs: 5_000 });
    expect(() => schema.parse({ DELIVERY_BACKOFF_JITTER: '2' })).toThrow();
  });
});

describe.each(testDatabaseDrivers())('transactional outbox on %s', (driver) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  const workers: OutboxWorker[] = [];

  const rowsFor = (key?: string) =>
    rowsOf<{ id: string; topic: string; key: string; state: string; attempts: number; last_status: number | null; last_error: string | null; result: unknown; next_attempt_at: Date; updated_at: Date; locked_by: string | null }>(
      handle.db,
      key === undefined
        ? sql`SELECT *, id::text AS id FROM kit_test_outbox ORDER BY kit_test_outbox.id`
        : sql`SELECT *, id::text AS id FROM kit_test_outbox WHERE key = ${key} ORDER BY kit_test_outbox.id`,
    );
  const countState = async (state: string) =>
    (await rowsOf<{ n: number }>(handle.db, sql`SELECT count(*)::int AS n FROM kit_test_outbox WHERE state = ${state}`))[0]!.n;

  function worker(handlers: Record<string, OutboxHandler>, options: Partial<OutboxWorkerOptions> = {}): OutboxWorker {
    const created = new OutboxWorker({
      // Through the fault-injecting proxy (it passes every call through until outage.down), so that every worker's
      // prepared statements belong to one client object, as in a service.
      db: flakyDatabase(handle.db),
      table: testOutbox,
      handlers,
      logger: pino({ level: 'silent' }),
      pollIntervalMs: 100,
      probeIntervalMs: 100,
      backoff: { baseMs: 20, maxMs: 200, jitter: 0.5 },
      ...options,
    });
    workers.push(created);
    return created;
  }

  const enqueueMany = (messages: { topic: string; key: string; payload?: unknown }[]) =>
    handle.db.transaction(async (tx) => enqueue(tx, testOutbox, messages.map((m) => ({ payload: {}, ...m }))));

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, 'kitoutbox');
    handle = await open(testDb.url);
  });
  beforeEach(async () => {
    outage.down = false;
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await handle.db.execute(sql`TRUNCATE kit_test_outbox RESTART IDENTITY`);
  });
  afterAll(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await handle.close();
    await testDb.drop();
  });

  it('writes messages only when the caller’s transaction commits, and delivers them with their result', async () => {
    await expect(
      handle.db.transaction(async (tx) => {
        await enqueue(tx, testOutbox, { topic: 'thing.create', key: 'k0', payload: { n: 0 } });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await rowsFor()).toHaveLength(0);
    expect(await handle.db.transaction(async (tx) => enqueue(tx, testOutbox, []))).toEqual([]);

    const seen: OutboxMessage[] = [];
    const w = worker({
      'thing.create': async (message) => {
        seen.push(message);
        return delivered({ thingId: `t-${message.key}` });
      },
    });
    await w.start();
    await w.start(); // idempotent
    const ids = await handle.db.transaction(async (tx) => enqueue(tx, testOutbox, { topic: 'thing.create', key: 'k1', payload: { n: 1 } }));
    expect(ids).toHaveLength(1);
    w.nudge();
    await waitFor(async () => (await countState('delivered')) === 1, 5_000, 'delivery');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ id: ids[0], topic: 'thing.create', key: 'k1', payload: { n: 1 }, attempt: 1 });
    expect(seen[0]!.createdAt).toBeInstanceOf(Date);
    const [row] = await rowsFor('k1');
    expect(row).toMatchObject({ state: 'delivered', attempts: 1, last_status: 200, last_error: null, result: { thingId: 't-k1' }, locked_by: null });
  });

  it('keeps the order of each key, even across failures and with many keys in parallel', async () => {
    const order = new Map<string, number[]>();
    const failedOnce = new Set<string>();
    const w = worker(
      {
        step: async (message) => {
          const { n } = message.payload as { n: number };
          // The first step of every third key fails once: later steps of that key must wait for it.
          if (n === 0 && Number(message.key.slice(1)) % 3 === 0 && !failedOnce.has(message.key)) {
            failedOnce.add(message.key);
            return { outcome: 'retry', status: 503, error: 'HTTP 503' };
          }
          await sleep(Math.random() * 5);
          order.set(message.key, [...(order.get(message.key) ?? []), n]);
          return delivered();
        },
      },
      { concurrency: 8 },
    );
    const messages = [];
    for (let n = 0; n < 4; n++) for (let k = 0; k < 15; k++) messages.push({ topic: 'step', key: `k${k}`, payload: { n } });
    await enqueueMany(messages);
    await w.start();
    await waitFor(async () => (await countState('delivered')) === 60, 15_000, 'all delivered');
    for (let k = 0; k < 15; k++) expect(order.get(`k${k}`)).toEqual([0, 1, 2, 3]);
    expect(failedOnce.size).toBe(5);
  });

  it('backs off exponentially with jitter within bounds, then delivers', async () => {
    let calls = 0;
    const w = worker(
      {
        flaky: async () => {
          calls += 1;
          return calls <= 3 ? { outcome: 'retry', status: 500, error: 'HTTP 500: boom' } : delivered();
        },
      },
      { backoff: { baseMs: 100, maxMs: 300, jitter: 0.5 }, probeIntervalMs: 60_000, pollIntervalMs: 20, circuitThreshold: 10 },
    );
    await enqueueMany([{ topic: 'flaky', key: 'b1' }]);
    await w.start();
    // After the first failure: next attempt in [50, 100] ms.
    await waitFor(() => calls >= 1, 5_000);
    await waitFor(async () => (await rowsFor('b1'))[0]!.last_status === 500, 5_000);
    const [afterFirst] = await rowsFor('b1');
    const delay1 = new Date(afterFirst!.next_attempt_at).getTime() - new Date(afterFirst!.updated_at).getTime();
    expect(delay1).toBeGreaterThanOrEqual(50 - 2);
    expect(delay1).toBeLessThanOrEqual(100 + 2);
    expect(afterFirst!.last_error).toBe('HTTP 500: boom');
    await waitFor(async () => (await countState('delivered')) === 1, 10_000, 'delivery after retries');
    const [row] = await rowsFor('b1');
    expect(row).toMatchObject({ attempts: 4, last_error: null, last_status: 200 });
  });

  it('records the capped backoff delay of each failure', async () => {
    const random = () => 0.25;
    const w = worker(
      { fail: async () => ({ outcome: 'retry', error: 'down' }) },
      // The 4th failure in a row opens the circuit (then only probes, every minute here, would try again).
      { backoff: { baseMs: 40, maxMs: 100, jitter: 0.4 }, random, probeIntervalMs: 60_000, pollIntervalMs: 10, circuitThreshold: 4 },
    );
    await enqueueMany([{ topic: 'fail', key: 'c1' }]);
    await w.start();
    const delays = new Map<number, number>();
    await waitFor(async () => {
      const [row] = await rowsFor('c1');
      if (row!.locked_by === null && row!.attempts > 0) {
        delays.set(row!.attempts, new Date(row!.next_attempt_at).getTime() - new Date(row!.updated_at).getTime());
      }
      return row!.attempts >= 4;
    }, 10_000);
    await w.stop();
    // d = min(100, 40 × 2^(n−1)); delay = d × (1 − 0.4 × 0.25) = 0.9 d
    const expected: Record<number, number> = { 1: 36, 2: 72, 3: 90 };
    for (const [attempt, delay] of delays) {
      if (expected[attempt] !== undefined) expect(Math.abs(delay - expected[attempt])).toBeLessThanOrEqual(2);
    }
    expect(delays.size).toBeGreaterThan(0);
    expect(w.targetFailing).toBe(true);
  });

  it('dead-letters permanent failures with their status and body, counts them, and re-queues them', async () => {
    const { logger, lines } = capturingLogger();
    const registry = new Registry();
    let keyIsRight = false;
    const w = worker(
      {
        provision: async (message) => {
          if (!keyIsRight) {
            return failureFromResponse({
              status: 401,
              body: { success: false, message: 'Invalid or missing service API key', errors: [] },
            });
          }
          return { outcome: 'delivered', status: 200, result: { id: message.key }, logFields: { customerId: `c-${message.key}` } };
        },
      },
      { logger, metrics: registry, metricPrefix: 'kit_provisioning', keyLabel: 'userId', targetName: 'CRMS' },
    );
    await enqueueMany([
      { topic: 'provision', key: 'u1' },
      { topic: 'provision', key: 'u2' },
      { topic: 'provision', key: 'u3' },
      { topic: 'nobody.handles.this', key: 'u4' },
    ]);
    await w.start();
    await waitFor(async () => (await countState('dead')) === 4, 5_000, 'dead letters');
    const summary = await outboxSummary(handle.db, testOutbox);
    expect(summary.counts).toEqual({ pending: 0, delivered: 0, dead: 4 });
    expect(summary.oldestPendingAgeSeconds).toBe(0);
    expect(summary.oldestPendingCreatedAt).toBeNull();
    expect(summary.dead[0]).toMatchObject({ topic: 'provision', key: 'u1', attempts: 1, lastStatus: 401 });
    expect(summary.dead[0]!.lastError).toContain('Invalid or missing service API key');
    expect(summary.dead[3]).toMatchObject({ key: 'u4', lastStatus: null, lastError: 'No handler for topic "nobody.handles.this"' });
    expect(Date.parse(summary.dead[0]!.failedAt)).toBeGreaterThan(0);
    expect((await outboxSummary(handle.db, testOutbox, { deadLimit: 2 })).dead).toHaveLength(2);

    const metrics = await registry.metrics();
    expect(metrics).toContain('kit_provisioning_dead_letters_total{topic="provision"} 3');
    expect(metrics).toContain('kit_provisioning_attempts_total{topic="provision",outcome="dead"} 3');
    expect(metrics).toContain('kit_provisioning_dead 4');
    expect(metrics).toContain('kit_provisioning_pending 0');

    const deadLine = lines.find((line) => line.userId === 'u1' && line.outcome === 'dead');
    expect(deadLine).toMatchObject({ service: 'kit-test', operation: 'provision', attempt: 1, status: 401, outbox: 'kit_test_outbox' });
    expect(typeof deadLine!.duration).toBe('number');
    expect(String(deadLine!.error)).toContain('HTTP 401');

    // Given keys only; unknown keys and an empty list change nothing.
    keyIsRight = true;
    expect(await requeueOutbox(handle.db, testOutbox, [])).toBe(0);
    expect(await w.requeue(['u2', 'nope'])).toBe(1);
    await waitFor(async () => (await countState('delivered')) === 1, 5_000, 'requeued u2');
    expect((await rowsFor('u2'))[0]).toMatchObject({ state: 'delivered', attempts: 1, result: { id: 'u2' } });
    // All the rest (u4 has no handler: dead again).
    expect(await w.requeue()).toBe(3);
    await waitFor(async () => (await countState('delivered')) === 3 && (await countState('dead')) === 1, 5_000, 'requeue all');
    const deliveredLine = lines.find((line) => line.userId === 'u1' && line.outcome === 'delivered');
    expect(deliveredLine).toMatchObject({ customerId: 'c-u1', status: 200 });
    expect(deliveredLine).not.toHaveProperty('error');
    expect(JSON.stringify(lines)).not.toContain('x-api-key');
  });

  it('requeue of given keys also makes their waiting retries due now', async () => {
    await enqueueMany([{ topic: 't', key: 'r1' }, { topic: 't', key: 'r2' }]);
    await handle.db.execute(sql`UPDATE kit_test_outbox SET next_attempt_at = now() + interval '1 hour', attempts = 3`);
    expect(await requeueOutbox(handle.db, testOutbox, ['r1'])).toBe(1);
    const [r1] = await rowsFor('r1');
    const [r2] = await rowsFor('r2');
    expect(new Date(r1!.next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now() + 50);
    expect(r1!.attempts).toBe(3); // still pending: its count is kept
    expect(new Date(r2!.next_attempt_at).getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('reports the pending backlog and the age of the oldest pending message', async () => {
    const registry = new Registry();
    const w = worker({ t: async () => delivered() }, { metrics: registry });
    await enqueueMany([{ topic: 't', key: 'p1' }, { topic: 't', key: 'p2' }]);
    await sleep(30);
    const summary = await w.summary();
    expect(summary.counts.pending).toBe(2);
    expect(summary.oldestPendingAgeSeconds).toBeGreaterThan(0);
    expect(Date.parse(summary.oldestPendingCreatedAt!)).toBeLessThanOrEqual(Date.now());
    const metrics = await registry.metrics();
    expect(metrics).toContain('kit_test_outbox_pending 2');
    expect(metrics).toMatch(/kit_test_outbox_oldest_pending_age_seconds 0\.\d+/);
    await w.start();
    await waitFor(async () => (await countState('delivered')) === 2, 5_000);
    expect(await registry.metrics()).toContain('kit_test_outbox_attempts_total{topic="t",outcome="delivered"} 2');
  });

  it('resumes promptly when the target comes back: the whole backlog, not at the next long backoff step', async () => {
    let up = false;
    let probesWhileDown = 0;
    const w = worker(
      {
        t: async () => {
          if (!up) {
            probesWhileDown += 1;
            throw new ServiceUnavailableError('POST http://127.0.0.1:1/x: connect ECONNREFUSED', false);
          }
          return delivered();
        },
      },
      // Long backoff: without prompt resumption, the backlog would wait ~20 s.
      { backoff: { baseMs: 20_000, maxMs: 60_000, jitter: 0 }, probeIntervalMs: 100, pollIntervalMs: 100, concurrency: 4 },
    );
    await w.start();
    await enqueueMany(Array.from({ length: 40 }, (_, i) => ({ topic: 't', key: `pr${i}` })));
    w.nudge();
    await waitFor(() => w.targetFailing, 10_000, 'circuit open');
    await w.idle();
    const attemptedBefore = (await rowsFor()).reduce((sum, row) => sum + row.attempts, 0);
    const before = probesWhileDown;
    await sleep(350);
    // While down, only probes reach the target (about one per 100 ms, due or not); the backlog waits untouched.
    expect(probesWhileDown - before).toBeGreaterThanOrEqual(2);
    expect(probesWhileDown - before).toBeLessThanOrEqual(5);
    expect((await rowsFor()).reduce((sum, row) => sum + row.attempts, 0) - attemptedBefore).toBe(probesWhileDown - before);
    expect(await countState('pending')).toBe(40);

    up = true;
    const cameBack = Date.now();
    await waitFor(async () => (await countState('delivered')) === 40, 5_000, 'backlog drained');
    expect(Date.now() - cameBack).toBeLessThan(2_000);
    expect(w.targetFailing).toBe(false);
  });

  it('two workers on one database never deliver the same message concurrently, and deliver each once', async () => {
    const deliveries = new Map<string, number>();
    const order = new Map<string, number[]>();
    let concurrentSameKey = 0;
    const active = new Set<string>();
    const handler: OutboxHandler = async (message) => {
      if (active.has(message.key)) concurrentSameKey += 1;
      active.add(message.key);
      await sleep(Math.random() * 4);
      deliveries.set(message.id, (deliveries.get(message.id) ?? 0) + 1);
      order.set(message.key, [...(order.get(message.key) ?? []), (message.payload as { n: number }).n]);
      active.delete(message.key);
      return delivered();
    };
    // On PostgreSQL each worker has its own connection pool, as two processes would.
    const second = driver === 'postgres' ? await open(testDb.url) : handle;
    const a = worker({ t: handler }, { concurrency: 6, listen: handle.listen.bind(handle) });
    const b = worker({ t: handler }, { concurrency: 6, db: second.db, listen: second.listen.bind(second) });
    try {
      await Promise.all([a.start(), b.start()]);
      // Writes of one key happen one after the other (as a user's changes do); keys interleave freely.
      for (let batch = 0; batch < 10; batch++) {
        const messages = [];
        for (let k = 0; k < 30; k++) messages.push({ topic: 't', key: `m${k}`, payload: { n: batch } });
        await enqueueMany(messages);
        (batch % 2 === 0 ? a : b).nudge();
        await sleep(5);
      }
      await waitFor(async () => (await countState('delivered')) === 300, 20_000, 'all delivered');
      expect(deliveries.size).toBe(300);
      expect([...deliveries.values()].every((count) => count === 1)).toBe(true);
      expect(concurrentSameKey).toBe(0);
      for (let k = 0; k < 30; k++) expect(order.get(`m${k}`)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      if (second !== handle) await second.close();
    }
  });

  it('wakes on NOTIFY from another instance’s commit, without a nudge or a tick', async () => {
    const w = worker({ t: async () => delivered() }, { pollIntervalMs: 600_000, listen: handle.listen.bind(handle) });
    await w.start();
    await w.idle();
    const started = Date.now();
    await enqueueMany([{ topic: 't', key: 'n1' }]);
    await waitFor(async () => (await countState('delivered')) === 1, 3_000, 'notified delivery');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(outboxChannel(testOutbox)).toBe('kit_test_outbox');
  });

  it('recovers a message whose lease expired (worker stuck or crashed) and fences the stale worker out', async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const { logger, lines } = capturingLogger();
    const a = worker(
      {
        t: async () => {
          await stuck;
          return { outcome: 'retry', error: 'late failure' };
        },
      },
      // concurrency 1: while its call hangs, a cannot claim anything (not even its own expired lease) again.
      { leaseMs: 300, logger, workerId: 'worker-a', stopTimeoutMs: 100, concurrency: 1 },
    );
    await a.start();
    await enqueueMany([{ topic: 't', key: 'l1' }]);
    a.nudge();
    await waitFor(async () => (await rowsFor('l1'))[0]!.locked_by === 'worker-a', 5_000, 'claimed by a');
    // a's lease is still valid: another worker leaves the message alone.
    let bCalls = 0;
    const b = worker(
      {
        t: async (message) => {
          bCalls += 1;
          expect(message.attempt).toBe(2);
          return delivered({ by: 'b' });
        },
      },
      { workerId: 'worker-b' },
    );
    await b.start();
    await sleep(100);
    expect(bCalls).toBe(0);
    // After the lease: b takes it over.
    await waitFor(async () => (await countState('delivered')) === 1, 5_000, 'takeover');
    expect(bCalls).toBe(1);
    // a finally answers: its outcome is ignored (the lease is gone), the message stays delivered.
    release();
    await waitFor(() => lines.some((line) => line.leaseLost === true), 3_000, 'lease lost log');
    expect((await rowsFor('l1'))[0]).toMatchObject({ state: 'delivered', attempts: 2, result: { by: 'b' } });
  });

  it('stops gracefully: waits for deliveries in flight, then claims nothing more', async () => {
    let finished = 0;
    const w = worker({
      t: async () => {
        await sleep(150);
        finished += 1;
        return delivered();
      },
    });
    await enqueueMany([{ topic: 't', key: 's1' }, { topic: 't', key: 's2' }]);
    await w.start();
    await waitFor(() => w.inFlightCount === 2, 5_000);
    await w.stop();
    await w.stop(); // idempotent
    expect(finished).toBe(2);
    expect(await countState('delivered')).toBe(2);
    await enqueueMany([{ topic: 't', key: 's3' }]);
    w.nudge();
    await sleep(150);
    expect(await countState('pending')).toBe(1);
  });

  it('stores a message without a payload as JSON null', async () => {
    await handle.db.transaction(async (tx) => enqueue(tx, testOutbox, { topic: 't', key: 'np' } as never));
    const [row] = await rowsOf<{ payload: unknown }>(handle.db, sql`SELECT payload FROM kit_test_outbox WHERE key = 'np'`);
    expect(row!.payload).toBeNull();
  });

  it('keeps going when the database fails in the middle: outcome not recorded → redelivered after the lease', async () => {
    const flaky = flakyDatabase(handle.db);
    const { logger, lines } = capturingLogger();
    let calls = 0;
    const w = worker(
      {
        t: async () => {
          calls += 1;
          if (calls === 1) return { outcome: 'retry', error: 'first failure' }; // target failing → probing starts
          if (calls === 2) {
            outage.down = true; // the outcome cannot be recorded, nor can the backlog be pulled forward
            return delivered();
          }
          return delivered();
        },
      },
      { db: flaky, logger, leaseMs: 300, probeIntervalMs: 50, pollIntervalMs: 50, backoff: { baseMs: 10, maxMs: 10, jitter: 0 }, circuitThreshold: 1 },
    );
    await enqueueMany([{ topic: 't', key: 'f1' }]);
    await w.start();
    await waitFor(() => lines.some((line) => line.msg === 'outbox: pulling the backlog forward failed'), 5_000, 'recover failure');
    expect(lines.some((line) => String(line.msg).startsWith('outbox: recording an outcome failed'))).toBe(true);
    await waitFor(() => lines.some((line) => line.msg === 'outbox: claiming messages failed'), 5_000, 'claim failure');
    outage.down = false;
    await waitFor(async () => (await countState('delivered')) === 1, 5_000, 'redelivered after the lease');
    expect((await rowsFor('f1'))[0]!.attempts).toBe(3);
  });

  it('logs a failing probe claim and keeps probing', async () => {
    const flaky = flakyDatabase(handle.db);
    const { logger, lines } = capturingLogger();
    const w = worker(
      { t: async () => ({ outcome: 'retry', error: 'down' }) },
      { db: flaky, logger, probeIntervalMs: 30, pollIntervalMs: 60_000, backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 }, circuitThreshold: 1 },
    );
    await enqueueMany([{ topic: 't', key: 'pf' }]);
    await w.start();
    await waitFor(() => w.targetFailing, 5_000, 'failing');
    await w.idle();
    outage.down = true;
    await waitFor(() => lines.some((line) => line.msg === 'outbox: probe claim failed'), 5_000, 'probe failure');
    outage.down = false;
    // Nothing left to probe with (the message was settled elsewhere): probing finds nothing and carries on.
    await handle.db.execute(sql`UPDATE kit_test_outbox SET state = 'dead'`);
    await sleep(150);
    expect(w.targetFailing).toBe(true);
    await w.stop();
  });

  it('runs one probe at a time, however slow the target is to fail', async () => {
    let calls = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const w = worker(
      {
        t: async () => {
          calls += 1;
          concurrent += 1;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          if (calls > 1) await sleep(150); // probes hang longer than the probe interval
          concurrent -= 1;
          return { outcome: 'retry', error: 'down' };
        },
      },
      { probeIntervalMs: 10, pollIntervalMs: 60_000, circuitThreshold: 1, backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } },
    );
    await enqueueMany([{ topic: 't', key: 'slow1' }]);
    await w.start();
    await waitFor(() => calls >= 3, 5_000, 'two probes');
    expect(maxConcurrent).toBe(1);
    await w.stop();
  });

  it('stops cleanly even when UNLISTEN fails', async () => {
    // Built directly: every tunable at its default.
    const w = new OutboxWorker({
      db: handle.db,
      table: testOutbox,
      handlers: {},
      logger: pino({ level: 'silent' }),
      listen: async () => async () => Promise.reject(new Error('connection gone')),
    });
    await w.start();
    await w.stop();
  });

  it('survives a database that goes away (logs, no crash) and can be started with a helper', async () => {
    const lost = await open(driver === 'postgres' ? testDb.url : 'memory://');
    const { logger, lines } = capturingLogger();
    let listenFailed = false;
    const registry = new Registry();
    const w = await startOutboxWorker({
      db: lost.db,
      table: testOutbox,
      handlers: {},
      logger,
      metrics: registry,
      pollIntervalMs: 20,
      listen: async () => {
        listenFailed = true;
        throw new Error('no listen');
      },
    });
    workers.push(w);
    expect(listenFailed).toBe(true);
    await w.idle();
    await lost.close();
    await waitFor(() => lines.some((line) => line.msg === 'outbox: claiming messages failed'), 3_000, 'claim failure log');
    // A scrape still answers (the backlog gauges keep their last value).
    expect(await registry.metrics()).toContain('kit_test_outbox_pending 0');
    await w.stop();
  });
});
