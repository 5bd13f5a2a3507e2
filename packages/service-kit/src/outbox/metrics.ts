import { sql } from 'drizzle-orm';
import { Counter, Histogram, type Registry } from 'prom-client';
import { rowsOf, type Database } from '../db/database.ts';
import { registerSnapshotGauges } from '../observability/metrics.ts';

/** Pending and dead-lettered counts and the oldest pending message's age in seconds. */
export interface OutboxBacklog {
  pending: number;
  dead: number;
  age: number;
}

/** The worker's counters, as the delivery attempt updates them. */
export interface OutboxWorkerMetrics {
  attempts: Counter<'topic' | 'outcome'>;
  latency: Histogram<'topic' | 'outcome'>;
  dead: Counter<'topic'>;
}

/** Reads the backlog of an outbox table (all instances' messages). */
export async function readOutboxBacklog(db: Database, table: string): Promise<OutboxBacklog> {
  const rows = await rowsOf<{ pending: number; dead: number; age: number | string | null }>(
    db,
    sql`SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
               count(*) FILTER (WHERE state = 'dead')::int AS dead,
               extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8 AS age
          FROM ${sql.identifier(table)} WHERE state <> 'delivered'`,
  );
  const row = rows[0]!;
  return { pending: Number(row.pending), dead: Number(row.dead), age: Math.max(0, Number(row.age ?? 0)) };
}

/** Registers the worker's metrics on the service's registry; `target` names the target in help texts. */
export function registerOutboxWorkerMetrics(
  registry: Registry,
  prefix: string,
  target: string,
  backlog: () => Promise<OutboxBacklog>,
): OutboxWorkerMetrics {
  const metrics: OutboxWorkerMetrics = {
    attempts: new Counter({
      name: `${prefix}_attempts_total`,
      help: `Delivery attempts to ${target} by topic and outcome (delivered, retry, dead)`,
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: `${prefix}_call_duration_seconds`,
      help: `Duration of calls to ${target} by topic and outcome`,
      labelNames: ['topic', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    dead: new Counter({
      name: `${prefix}_dead_letters_total`,
      help: `Messages dead-lettered by this process (permanent failure answered by ${target})`,
      labelNames: ['topic'],
      registers: [registry],
    }),
  };
  // Backlog gauges are read from the database on scrape, so they are right across instances and restarts.
  registerSnapshotGauges(registry, backlog, [
    { name: `${prefix}_pending`, help: `Messages waiting for delivery to ${target}`, pick: (s) => s.pending },
    { name: `${prefix}_oldest_pending_age_seconds`, help: 'Age of the oldest pending message (0 when none)', pick: (s) => s.age },
    { name: `${prefix}_dead`, help: 'Messages currently dead-lettered (awaiting a retry by an operator)', pick: (s) => s.dead },
  ]);
  return metrics;
}
