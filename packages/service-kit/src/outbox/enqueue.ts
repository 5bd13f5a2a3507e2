import { getTableName, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { runStatement } from '../db/prepared-statement.ts';
import { currentTraceContext } from '../observability/tracing.ts';
import type { OutboxTable } from './table.ts';

export interface OutboxMessageInput {
  topic: string;
  /** The aggregate the message is about (e.g. a userId); messages of one key are delivered in order. */
  key: string;
  payload: unknown;
}

/** The LISTEN/NOTIFY channel of an outbox table: its name. */
export function outboxChannel(table: OutboxTable): string {
  return getTableName(table);
}

/**
 * Writes messages in the caller's transaction, so they exist if and only if the business write commits, with the
 * active trace context; one statement, NOTIFY at commit wakes every instance. Returns the new ids.
 */
export async function enqueue(
  tx: Executor,
  table: OutboxTable,
  messages: OutboxMessageInput | OutboxMessageInput[],
): Promise<string[]> {
  const list = Array.isArray(messages) ? messages : [messages];
  if (list.length === 0) return [];
  const name = getTableName(table);
  const trace = currentTraceContext();
  const values = sql.join(
    list.map(
      (message) =>
        sql`(${message.topic}, ${message.key}, ${JSON.stringify(message.payload ?? null)}::jsonb, ${trace?.traceparent ?? null}, ${trace?.tracestate ?? null})`,
    ),
    sql`, `,
  );
  const rows = await runStatement<{ id: string }>(
    tx,
    sql`WITH inserted AS (
          INSERT INTO ${sql.identifier(name)} (topic, key, payload, traceparent, tracestate) VALUES ${values} RETURNING id
        )
        SELECT inserted.id::text AS id, pg_notify(${name}, '') AS notified FROM inserted`,
  );
  return rows.map((row) => row.id);
}
