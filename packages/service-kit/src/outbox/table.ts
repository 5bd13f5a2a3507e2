import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const OUTBOX_STATES = ['pending', 'delivered', 'dead'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/**
 * A transactional outbox table. Each service declares its own (in its own `schema.ts`, so its migrations create
 * it): `export const myOutbox = defineOutboxTable('my_outbox')`.
 *
 * - `id` is a bigserial: rows of one key are delivered in id order (the order their transactions wrote them).
 * - `key` is the aggregate the message is about (e.g. a userId); a row is only eligible while no older pending
 *   row of the same key exists.
 * - `locked_until` / `locked_by` form the lease a worker holds while delivering; an expired lease makes the row
 *   claimable again (a crashed worker loses nothing).
 * - `traceparent` / `tracestate` carry the writing request's trace to every delivery attempt (README "Tracing").
 */
export function defineOutboxTable<const TName extends string>(name: TName) {
  return pgTable(
    name,
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      topic: text('topic').notNull(),
      key: text('key').notNull(),
      payload: jsonb('payload').notNull(),
      state: text('state', { enum: OUTBOX_STATES }).notNull().default('pending'),
      attempts: integer('attempts').notNull().default(0),
      nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
      lockedUntil: timestamp('locked_until', { withTimezone: true, precision: 3 }),
      lockedBy: text('locked_by'),
      lastError: text('last_error'),
      lastStatus: integer('last_status'),
      result: jsonb('result'),
      createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
      updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
      deliveredAt: timestamp('delivered_at', { withTimezone: true, precision: 3 }),
      // W3C trace context of the request that wrote the row (null while tracing is off): delivery attempts join its trace.
      traceparent: text('traceparent'),
      tracestate: text('tracestate'),
    },
    (table) => [
      // What the claim query scans: due pending rows, oldest first.
      index(`${name}_due_idx`).on(table.nextAttemptAt, table.id).where(sql`state = 'pending'`),
      // Per-key ordering check, per-key requeue and "has this user been delivered" look-ups.
      index(`${name}_key_idx`).on(table.key, table.id),
      index(`${name}_state_idx`).on(table.state),
    ],
  );
}

export type OutboxTable = ReturnType<typeof defineOutboxTable<string>>;
