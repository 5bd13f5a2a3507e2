import { randomBytes } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { getTableName } from 'drizzle-orm';
import type { Registry } from 'prom-client';
import { errorLogFields } from '../db/availability.ts';
import type { Database, DatabaseHandle } from '../db/database.ts';
import type { Logger } from '../observability/logger.ts';
import { pullPendingForward, requeueOutbox, outboxSummary, type OutboxSummary } from './admin.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../backoff.ts';
import { claimMessages, type ClaimedRow } from './claims.ts';
import { attemptDelivery, type DeliveryAttemptContext, type OutboxHandler } from './delivery-attempt.ts';
import { readOutboxBacklog, registerOutboxWorkerMetrics, type OutboxBacklog } from './metrics.ts';
import type { OutboxTable } from './table.ts';

export type { OutboxHandler, OutboxMessage } from './delivery-attempt.ts';

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

/**
 * Delivers an outbox table's messages: leased SKIP LOCKED claims, per-key order, bounded concurrency, backoff with
 * jitter, dead letters, prompt resumption after an outage (docs/provisioning.md, "Delivery: the worker").
 */
export class OutboxWorker {
  readonly workerId: string;
  private readonly name: string;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly circuitThreshold: number;
  private consecutiveFailures = 0;
  private readonly stopTimeoutMs: number;
  private readonly log: Logger;
  /** What each delivery attempt uses (delivery-attempt.ts). */
  private readonly attempt: DeliveryAttemptContext;

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

  constructor(private readonly options: OutboxWorkerOptions) {
    this.name = getTableName(options.table);
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.leaseMs = Math.max(1, options.leaseMs ?? 30_000);
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1_000);
    this.probeIntervalMs = Math.max(1, options.probeIntervalMs ?? 1_000);
    this.circuitThreshold = Math.max(1, options.circuitThreshold ?? 3);
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.workerId = options.workerId ?? `${this.name}-${randomBytes(6).toString('hex')}`;
    this.log = options.logger.child({ outbox: this.name });
    const metrics = options.metrics
      ? registerOutboxWorkerMetrics(options.metrics, options.metricPrefix ?? this.name, options.targetName ?? 'the target', () => this.backlog())
      : undefined;
    this.attempt = {
      db: options.db,
      holder: { table: this.name, workerId: this.workerId, leaseMs: this.leaseMs },
      handlers: options.handlers,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      random: options.random ?? Math.random,
      keyLabel: options.keyLabel ?? 'key',
      log: this.log,
      metrics,
    };
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
    // In no request's trace context: a claim serves many messages (each attempt's span has the row's own parent).
    this.pumping = context.with(ROOT_CONTEXT, () => this.pump()).finally(() => {
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
  backlog(): Promise<OutboxBacklog> {
    return readOutboxBacklog(this.options.db, this.name);
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

  private claim(limit: number, probe: boolean): Promise<ClaimedRow[]> {
    return claimMessages(this.options.db, this.attempt.holder, limit, probe);
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

  /** One attempt (delivery-attempt.ts), then the circuit: retryable failures in a row mark the target failing. */
  private async deliver(row: ClaimedRow): Promise<void> {
    const { outcome, retryInMs } = await attemptDelivery(row, this.attempt, this.stopping.signal);
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
