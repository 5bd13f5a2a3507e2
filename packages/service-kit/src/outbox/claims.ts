import { sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { runStatement } from '../db/prepared-statement.ts';
import type { DeliveryOutcome } from './outcome.ts';

/** A row as a claim returns it. */
export interface ClaimedRow {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  attempts: number;
  created_at: Date | string;
  /** The writing request's trace context (null when written while tracing was off). */
  traceparent: string | null;
  tracestate: string | null;
}

/** Who holds a claim: the lease's owner and length. */
export interface ClaimHolder {
  table: string;
  workerId: string;
  leaseMs: number;
}

/**
 * Takes up to `limit` messages: pending, due (unless probing), not leased, and the oldest pending one of their
 * key. Each claim bumps `attempts`, which with `locked_by` fences the lease (see recordOutcome). Both run as prepared
 * statements (runStatement): on PGlite, drizzle's execute cost 2–3 times their CPU. The update finds the rows through
 * `= ANY`, an index look-up whatever the planner's statistics say (docs/provisioning.md, "Measured").
 */
export function claimMessages(db: Database, holder: ClaimHolder, limit: number, probe: boolean): Promise<ClaimedRow[]> {
  const table = sql.identifier(holder.table);
  const due = probe ? sql`TRUE` : sql`o.next_attempt_at <= now()`;
  return runStatement<ClaimedRow>(
    db,
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
           SET locked_until = now() + make_interval(secs => ${holder.leaseMs / 1000}),
               locked_by = ${holder.workerId},
               attempts = t.attempts + 1,
               updated_at = now()
         WHERE t.id = ANY (ARRAY(SELECT id FROM candidates))
        RETURNING t.id::text AS id, t.topic, t.key, t.payload, t.attempts, t.created_at, t.traceparent, t.tracestate`,
  );
}

/**
 * Writes the outcome if this worker still holds the lease: a worker whose lease expired and was taken over
 * (attempts bumped, locked_by changed) writes nothing. Returns whether the row was updated.
 */
export async function recordOutcome(
  db: Database,
  holder: ClaimHolder,
  claim: { id: string; attempt: number },
  outcome: DeliveryOutcome,
  retryInMs: number | undefined,
): Promise<boolean> {
  const table = sql.identifier(holder.table);
  const status = outcome.status ?? null;
  const fence = sql`id = ${claim.id}::bigint AND state = 'pending' AND locked_by = ${holder.workerId} AND attempts = ${claim.attempt}`;
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
  const rows = await runStatement<{ id: string }>(db, update);
  return rows.length === 1;
}
