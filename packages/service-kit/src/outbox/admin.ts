import { getTableName, sql } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/database.ts';
import type { OutboxState, OutboxTable } from './table.ts';

export interface DeadLetter {
  id: string;
  topic: string;
  key: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  failedAt: string;
}

export interface OutboxSummary {
  counts: Record<OutboxState, number>;
  /** Age in seconds of the oldest pending message (0 when nothing is pending). */
  oldestPendingAgeSeconds: number;
  oldestPendingCreatedAt: string | null;
  /** Dead-lettered messages, oldest first (at most `deadLimit`). */
  dead: DeadLetter[];
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** Counts by state, oldest pending age and the dead letters with their last error. */
export async function outboxSummary(db: Executor, table: OutboxTable, options: { deadLimit?: number } = {}): Promise<OutboxSummary> {
  const name = sql.identifier(getTableName(table));
  const counts = await rowsOf<{ state: OutboxState; n: number; oldest: Date | string | null }>(
    db,
    sql`SELECT state, count(*)::int AS n, min(created_at) AS oldest FROM ${name} GROUP BY state`,
  );
  const result: OutboxSummary = {
    counts: { pending: 0, delivered: 0, dead: 0 },
    oldestPendingAgeSeconds: 0,
    oldestPendingCreatedAt: null,
    dead: [],
  };
  for (const row of counts) {
    result.counts[row.state] = Number(row.n);
    if (row.state === 'pending' && row.oldest !== null) {
      result.oldestPendingCreatedAt = iso(row.oldest);
      result.oldestPendingAgeSeconds = Math.max(0, (Date.now() - new Date(row.oldest).getTime()) / 1000);
    }
  }
  if (result.counts.dead > 0) {
    const dead = await rowsOf<{
      id: string;
      topic: string;
      key: string;
      attempts: number;
      last_status: number | null;
      last_error: string | null;
      created_at: Date | string;
      updated_at: Date | string;
    }>(
      db,
      sql`SELECT id::text AS id, topic, key, attempts, last_status, last_error, created_at, updated_at
          FROM ${name} WHERE state = 'dead' ORDER BY id LIMIT ${options.deadLimit ?? 100}`,
    );
    result.dead = dead.map((row) => ({
      id: row.id,
      topic: row.topic,
      key: row.key,
      attempts: Number(row.attempts),
      lastStatus: row.last_status === null ? null : Number(row.last_status),
      lastError: row.last_error,
      createdAt: iso(row.created_at),
      failedAt: iso(row.updated_at),
    }));
  }
  return result;
}

/**
 * Puts dead-lettered messages back in the queue, due now, with a fresh backoff (all of them, or only those of the
 * given keys; for given keys, pending messages waiting for a later retry are also made due now). Notifies the
 * table's channel so every running worker picks them up. Returns how many messages were re-queued or made due.
 */
export async function requeueOutbox(db: Executor, table: OutboxTable, keys?: readonly string[]): Promise<number> {
  const tableName = getTableName(table);
  const name = sql.identifier(tableName);
  if (keys !== undefined && keys.length === 0) return 0;
  const keyFilter = keys === undefined ? sql`TRUE` : sql`key IN (${sql.join(keys.map((key) => sql`${key}`), sql`, `)})`;
  const rows = await rowsOf<{ n: number }>(
    db,
    sql`WITH changed AS (
          UPDATE ${name}
             SET state = 'pending',
                 attempts = CASE WHEN state = 'dead' THEN 0 ELSE attempts END,
                 next_attempt_at = now(),
                 updated_at = now()
           WHERE ${keyFilter}
             AND (state = 'dead' OR (${keys !== undefined} AND state = 'pending' AND next_attempt_at > now()))
          RETURNING 1
        )
        SELECT count(*)::int AS n, pg_notify(${tableName}, '') AS notified FROM changed`,
  );
  return Number(rows[0]!.n);
}

/** Makes every pending message due now (used when the target answers again after an outage). */
export async function pullPendingForward(db: Executor, table: OutboxTable): Promise<number> {
  const tableName = getTableName(table);
  const rows = await rowsOf<{ n: number }>(
    db,
    sql`WITH changed AS (
          UPDATE ${sql.identifier(tableName)} SET next_attempt_at = now()
           WHERE state = 'pending' AND next_attempt_at > now()
          RETURNING 1
        )
        SELECT count(*)::int AS n, pg_notify(${tableName}, '') AS notified FROM changed`,
  );
  return Number(rows[0]!.n);
}
