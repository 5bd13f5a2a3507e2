import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const OUTBOX_STATES = ['pending', 'delivered', 'dead'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/**
 * A transactional outbox table, declared by each service in its own `schema.ts` so its migrations create it
 * (`defineOutboxTable('my_outbox')`); what each column is for: docs/provisioning.md, "Delivery: the worker".
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
      // Per-key requeue and "has this user been delivered" look-ups.
      index(`${name}_key_idx`).on(table.key, table.id),
      // The claim's check for an older pending row of the key: pending rows only, however long the delivered history.
      index(`${name}_pending_key_idx`).on(table.key, table.id).where(sql`state = 'pending'`),
      index(`${name}_state_idx`).on(table.state),
    ],
  );
}

export type OutboxTable = ReturnType<typeof defineOutboxTable<string>>;
