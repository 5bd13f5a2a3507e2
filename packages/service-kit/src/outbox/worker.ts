import { randomBytes } from 'node:crypto';
import { getTableName, sql } from 'drizzle-orm';
import { Counter, Histogram, type Registry } from 'prom-client';
import { errorLogFields, retryWhileUnavailable } from '../db/availability.ts';
import { rowsOf, type Database, type DatabaseHandle } from '../db/database.ts';
import type { Logger } from '../observability/logger.ts';
import { registerSnapshotGauges } from '../observability/metrics.ts';
import { pullPendingForward, requeueOutbox, outboxSummary, type OutboxSummary } from './admin.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { failureFromError, type DeliveryOutcome } from './outcome.ts';
import type { OutboxTable } from './table.ts';

/** One message handed to a handler. */
export interface OutboxMessage {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  /** 1 for the first attempt. */
  attempt: number;
  createdAt: Date;
}

/** Delivers one message; throwing counts as a retryable failure. */
export type OutboxHandler = (message: OutboxMessage) => Promise<DeliveryOutcome>;

export interface OutboxWorkerOptions {
  db: Database;
  table: OutboxTable;
  handlers: Record<string, OutboxHandler>;
  logger: Logger;
  /** The service's registry; the worker's metrics are registered on it when given. */
  metrics?: Registry;
  /** Prefix of the metric names (default: the table name). */
  metricPrefix?: string;
  /** What the target is called in metric help texts and logs (e.g. `CRMS`). */
  targetName?: string;
  /** Name of the key in log lines (e.g. `userId`); `key` by default. */
  keyLabel?: string;
  /** LISTEN on the table's channel (the kit's DatabaseHandle.listen): other instances' commits wake this worker. */
  listen?: DatabaseHandle['listen'];
  /** Deliveries in flight at most (default 32). */
  concurrency?: number;
  /** How long a claimed message stays reserved for this worker (default 30 s); after that another may take it. */
  leaseMs?: number;
  /** Periodic look for due messages (retries, other instances' leftovers, expired leases); default 1 s. */
  pollIntervalMs?: number;
  /** While the target is failing, try one pending message (due or not) this often (default 1 s). */
  probeIntervalMs?: number;
  /**
   * Consecutive retryable failures (across messages, no success in between) after which the target counts as down
   * (default 3): this worker then stops sending it the backlog and only probes it, until a delivery succeeds.
   */
  circuitThreshold?: number;
  backoff?: Partial<BackoffPolicy>;
  /** How long stop() waits for deliveries in flight (default 10 s). */
  stopTimeoutMs?: number;
  /** Identifies this worker in leases (default: random). */
  workerId?: string;
  random?: () => number;
}

interface ClaimedRow {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  attempts: number;
  created_at: Date | string;
}

/**
 * Delivers an outbox table's messages: claims due rows with `FOR UPDATE SKIP LOCKED` and a lease (so several
 * instances on one database never deliver one row at the same time), keeps the order of each key, delivers with
 * bounded concurrency, retries with capped exponential backoff and jitter, dead-letters permanent failures, and
 * resumes promptly when the target answers again after an outage.
 */
export class OutboxWorker {
  readonly workerId: string;
  private readonly name: string;
  private readonly handlers: Record<string, OutboxHandler>;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly circuitThreshold: number;
  private consecutiveFailures = 0;
  private readonly backoff: BackoffPolicy;
  private readonly stopTimeoutMs: number;
  private readonly keyLabel: string;
  private readonly random: () => number;
  private readonly log: Logger;

  private running = false;
  /** Aborted by stop(): cuts short the waits for the database to come back. */
  private stopping = new AbortController();
  private pumping: Promise<void> | undefined;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();
  private probing = false;
  private failing = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private unlisten: (() => Promise<void>) | undefined;

  private readonly attemptsCounter: Counter<'topic' | 'outcome'> | undefined;
  private readonly latency: Histogram<'topic' | 'outcome'> | undefined;
  private readonly deadCounter: Counter<'topic'> | undefined;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.name = getTableName(options.table);
    this.handlers = options.handlers;
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.leaseMs = Math.max(1, options.leaseMs ?? 30_000);
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1_000);
    this.probeIntervalMs = Math.max(1, options.probeIntervalMs ?? 1_000);
    this.circuitThreshold = Math.max(1, options.circuitThreshold ?? 3);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.keyLabel = options.keyLabel ?? 'key';
    this.random = options.random ?? Math.random;
    this.workerId = options.workerId ?? `${this.name}-${randomBytes(6).toString('hex')}`;
    this.log = options.logger.child({ outbox: this.name });

    if (options.metrics) {
      const registry = options.metrics;
      const prefix = options.metricPrefix ?? this.name;
      const target = options.targetName ?? 'the target';
      this.attemptsCounter = new Counter({
        name: `${prefix}_attempts_total`,
        help: `Delivery attempts to ${target} by topic and outcome (delivered, retry, dead)`,
        labelNames: ['topic', 'outcome'],
        registers: [registry],
      });
      this.latency = new Histogram({
        name: `${prefix}_call_duration_seconds`,
        help: `Duration of calls to ${target} by topic and outcome`,
        labelNames: ['topic', 'outcome'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      });
      this.deadCounter = new Counter({
        name: `${prefix}_dead_letters_total`,
        help: `Messages dead-lettered by this process (permanent failure answered by ${target})`,
        labelNames: ['topic'],
        registers: [registry],
      });
      // Backlog gauges are read from the database on scrape, so they are right across instances and restarts.
      registerSnapshotGauges(registry, () => this.backlog(), [
        { name: `${prefix}_pending`, help: `Messages waiting for delivery to ${target}`, pick: (s) => s.pending },
        { name: `${prefix}_oldest_pending_age_seconds`, help: 'Age of the oldest pending message (0 when none)', pick: (s) => s.age },
        { name: `${prefix}_dead`, help: 'Messages currently dead-lettered (awaiting a retry by an operator)', pick: (s) => s.dead },
      ]);
    }
  }

  /** Whether the target counts as down (circuitThreshold retryable failures in a row, no success since). */
  get targetFailing(): boolean {
    return this.failing;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    if (this.options.listen) {
      try {
        this.unlisten = await this.options.listen(this.name, () => this.nudge());
      } catch (error) {
        this.log.warn({ err: error }, 'outbox: LISTEN failed, relying on the periodic tick');
      }
    }
    this.tickTimer = setInterval(() => this.nudge(), this.pollIntervalMs);
    this.tickTimer.unref();
    this.nudge();
  }

  /** Look for due messages now (called after a commit that enqueued some). Cheap; coalesces. */
  nudge(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  /** Stops claiming, waits (up to stopTimeoutMs) for deliveries in flight; unfinished ones are taken after their lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping.abort();
    clearInterval(this.tickTimer);
    clearInterval(this.probeTimer);
    clearTimeout(this.dueTimer);
    this.probeTimer = undefined;
    if (this.unlisten) {
      await this.unlisten().catch(() => undefined);
      this.unlisten = undefined;
    }
    const settled = (async () => {
      await this.pumping;
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.stopTimeoutMs)))]);
    clearTimeout(timer);
  }

  /** Re-queues dead letters (all, or those of the given keys) and wakes every worker. */
  async requeue(keys?: readonly string[]): Promise<number> {
    const count = await requeueOutbox(this.options.db, this.options.table, keys);
    this.nudge();
    return count;
  }

  summary(options?: { deadLimit?: number }): Promise<OutboxSummary> {
    return outboxSummary(this.options.db, this.options.table, options);
  }

  /** Resolves once nothing is in flight and no claim is running (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.pumping || this.inFlight.size > 0) {
      await this.pumping;
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** Pending and dead-lettered counts and the oldest pending message's age in seconds, as the backlog gauges read them. */
  async backlog(): Promise<{ pending: number; dead: number; age: number }> {
    const rows = await rowsOf<{ pending: number; dead: number; age: number | string | null }>(
      this.options.db,
      sql`SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
                 count(*) FILTER (WHERE state = 'dead')::int AS dead,
                 extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8 AS age
            FROM ${sql.identifier(this.name)} WHERE state <> 'delivered'`,
    );
    const row = rows[0]!;
    return { pending: Number(row.pending), dead: Number(row.dead), age: Math.max(0, Number(row.age ?? 0)) };
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        // While the target is down, only the probe talks to it: the backlog waits, costing nothing.
        while (this.running && !this.failing && this.inFlight.size < this.concurrency) {
          const wanted = this.concurrency - this.inFlight.size;
          const rows = await this.claim(wanted, false);
          for (const row of rows) this.launch(row);
          if (rows.length < wanted) break;
        }
      } while (this.again && this.running);
    } catch (error) {
      // Database unreachable: the tick tries again.
      this.log.warn(errorLogFields(error), 'outbox: claiming messages failed');
    }
  }

  /**
   * Takes up to `limit` messages: pending, due (unless probing), not leased, and the oldest pending one of their
   * key. Each claim bumps `attempts`, which with `locked_by` fences the lease: a worker whose lease expired and
   * was taken over cannot record an outcome any more.
   */
  private async claim(limit: number, probe: boolean): Promise<ClaimedRow[]> {
    const table = sql.identifier(this.name);
    const due = probe ? sql`TRUE` : sql`o.next_attempt_at <= now()`;
    return rowsOf<ClaimedRow>(
      this.options.db,
      sql`WITH candidates AS (
            SELECT o.id FROM ${table} o
             WHERE o.state = 'pending'
               AND ${due}
               AND (o.locked_until IS NULL OR o.locked_until <= now())
               AND NOT EXISTS (
                 SELECT 1 FROM ${table} p WHERE p.key = o.key AND p.state = 'pending' AND p.id < o.id
               )
             ORDER BY o.next_attempt_at, o.id
             LIMIT ${limit}
             FOR UPDATE OF o SKIP LOCKED
          )
          UPDATE ${table} AS t
             SET locked_until = now() + make_interval(secs => ${this.leaseMs / 1000}),
                 locked_by = ${this.workerId},
                 attempts = t.attempts + 1,
                 updated_at = now()
            FROM candidates
           WHERE t.id = candidates.id
          RETURNING t.id::text AS id, t.topic, t.key, t.payload, t.attempts, t.created_at`,
    );
  }

  private launch(row: ClaimedRow, probe = false): void {
    const delivery = this.deliver(row).finally(() => {
      this.inFlight.delete(delivery);
      if (probe) this.probing = false;
      // Refill in batches rather than one claim per finished delivery; an idle worker always looks again
      // (the next message of the key just delivered may now be eligible).
      if (this.inFlight.size <= this.concurrency / 2) this.nudge();
    });
    this.inFlight.add(delivery);
  }

  private async deliver(row: ClaimedRow): Promise<void> {
    const claimedAt = performance.now();
    const attempt = Number(row.attempts);
    const message: OutboxMessage = {
      id: row.id,
      topic: row.topic,
      key: row.key,
      payload: row.payload,
      attempt,
      createdAt: new Date(row.created_at),
    };
    const handler = this.handlers[row.topic];
    const started = performance.now();
    let outcome: DeliveryOutcome;
    if (!handler) {
      outcome = { outcome: 'dead', error: `No handler for topic "${row.topic}"` };
    } else {
      try {
        outcome = await handler(message);
      } catch (error) {
        outcome = failureFromError(error);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.attemptsCounter?.inc({ topic: row.topic, outcome: outcome.outcome });
    this.latency?.observe({ topic: row.topic, outcome: outcome.outcome }, seconds);

    const retryInMs = outcome.outcome === 'retry' ? backoffDelay(attempt, this.backoff, this.random) : undefined;
    let recorded = false;
    try {
      // The database may be restarting: keep trying while the lease lasts (the fence keeps a late write safe), so the
      // outcome is not lost and the message not delivered again after its lease.
      const leaseLeft = this.leaseMs - (performance.now() - claimedAt);
      recorded = await retryWhileUnavailable(() => this.record(message, outcome, retryInMs), leaseLeft, this.stopping.signal);
    } catch (error) {
      this.log.warn({ ...errorLogFields(error), [this.keyLabel]: row.key }, 'outbox: recording an outcome failed; the message is retried after its lease');
    }

    const line = {
      operation: row.topic,
      [this.keyLabel]: row.key,
      ...outcome.logFields,
      messageId: row.id,
      attempt,
      duration: Math.round(seconds * 10_000) / 10,
      outcome: outcome.outcome,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(outcome.outcome !== 'delivered' ? { error: outcome.error } : {}),
      ...(retryInMs !== undefined ? { retryInMs } : {}),
      ...(recorded ? {} : { leaseLost: true }),
    };
    if (outcome.outcome === 'delivered') this.log.info(line, 'outbox delivery attempt');
    else if (outcome.outcome === 'retry') this.log.warn(line, 'outbox delivery attempt');
    else {
      this.deadCounter?.inc({ topic: row.topic });
      this.log.error(line, 'outbox delivery attempt: dead-lettered');
    }

    if (outcome.outcome === 'retry') {
      this.consecutiveFailures += 1;
      if (this.consecutiveFailures >= this.circuitThreshold) this.markFailing();
      this.wakeAt(Date.now() + retryInMs!);
    } else {
      // The target answered (a dead letter is an answer too).
      this.consecutiveFailures = 0;
      if (outcome.outcome === 'delivered' && this.failing) await this.recover();
    }
  }

  /** Writes the outcome, if this worker still holds the lease. */
  private async record(message: OutboxMessage, outcome: DeliveryOutcome, retryInMs: number | undefined): Promise<boolean> {
    const table = sql.identifier(this.name);
    const status = outcome.status ?? null;
    const fence = sql`id = ${message.id}::bigint AND state = 'pending' AND locked_by = ${this.workerId} AND attempts = ${message.attempt}`;
    let update;
    if (outcome.outcome === 'delivered') {
      const result = outcome.result === undefined ? null : JSON.stringify(outcome.result);
      update = sql`UPDATE ${table} SET state = 'delivered', delivered_at = now(), updated_at = now(), result = ${result}::jsonb,
                     last_status = ${status}::int, last_error = NULL, locked_until = NULL, locked_by = NULL
                   WHERE ${fence} RETURNING id`;
    } else if (outcome.outcome === 'retry') {
      update = sql`UPDATE ${table} SET next_attempt_at = now() + make_interval(secs => ${retryInMs! / 1000}), updated_at = now(),
                     last_status = ${status}::int, last_error = ${outcome.error}, locked_until = NULL, locked_by = NULL
                   WHERE ${fence} RETURNING id`;
    } else {
      update = sql`UPDATE ${table} SET state = 'dead', updated_at = now(),
                     last_status = ${status}::int, last_error = ${outcome.error}, locked_until = NULL, locked_by = NULL
                   WHERE ${fence} RETURNING id`;
    }
    const rows = await rowsOf<{ id: string }>(this.options.db, update);
    return rows.length === 1;
  }

  private wakeAt(at: number): void {
    if (!this.running || at >= this.dueAt) return;
    clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueAt = Number.POSITIVE_INFINITY;
      this.nudge();
    }, Math.max(0, at - Date.now()) + 5);
    this.dueTimer.unref();
  }

  private markFailing(): void {
    if (!this.failing) {
      this.failing = true;
      this.log.warn('outbox: target failing; probing it until it answers');
    }
    if (this.probeTimer === undefined && this.running) {
      this.probeTimer = setInterval(() => void this.probe(), this.probeIntervalMs);
      this.probeTimer.unref();
    }
  }

  /** While failing: one pending message, due or not, to learn as soon as possible that the target is back. */
  private async probe(): Promise<void> {
    if (!this.running || this.probing || this.inFlight.size >= this.concurrency) return;
    this.probing = true;
    try {
      const rows = await this.claim(1, true);
      if (rows.length === 0) {
        this.probing = false;
        return;
      }
      this.launch(rows[0]!, true);
    } catch (error) {
      this.probing = false;
      this.log.warn(errorLogFields(error), 'outbox: probe claim failed');
    }
  }

  /** The target answered again: every pending message becomes due now, and every instance is woken. */
  private async recover(): Promise<void> {
    this.failing = false;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    try {
      const pulled = await pullPendingForward(this.options.db, this.options.table);
      this.log.info({ pulledForward: pulled }, 'outbox: target answering again; draining the backlog');
    } catch (error) {
      this.log.warn({ err: error }, 'outbox: pulling the backlog forward failed');
    }
    this.nudge();
  }
}

/** Convenience: a started worker. */
export async function startOutboxWorker(options: OutboxWorkerOptions): Promise<OutboxWorker> {
  const worker = new OutboxWorker(options);
  await worker.start();
  return worker;
}
