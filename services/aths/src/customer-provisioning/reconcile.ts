import { getTableName, sql } from 'drizzle-orm';
import { rowsOf, type Database } from '@shop/service-kit';
import { users } from '../users/schema.ts';
import { TOPICS } from './handlers.ts';
import { customerOutbox } from './schema.ts';

export interface ReconcileResult {
  /** Customers that had no customer.create at all (e.g. created before the outbox existed): queued now. */
  queued: number;
  /** Customers whose customer.create was dead-lettered: re-queued now. */
  requeued: number;
}

const outbox = sql.identifier(getTableName(customerOutbox));

/**
 * Gives every Customer a CRMS record: re-queues their dead-lettered creates, queues one for each Customer without a
 * pending or delivered create (docs/provisioning.md). Safe any time: the CRMS create is idempotent.
 */
export async function reconcileCustomers(db: Database): Promise<ReconcileResult> {
  return db.transaction(async (tx) => {
    const requeued = await rowsOf<{ n: number }>(
      tx,
      sql`WITH changed AS (
            UPDATE ${outbox} o
               SET state = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL, locked_by = NULL, updated_at = now()
             WHERE o.topic = ${TOPICS.create} AND o.state = 'dead'
               AND EXISTS (SELECT 1 FROM ${users} u WHERE u.id = o.key AND u.role = 'Customer')
            RETURNING 1
          )
          SELECT count(*)::int AS n FROM changed`,
    );
    const [mark] = await rowsOf<{ id: string }>(tx, sql`SELECT coalesce(max(id), 0)::text AS id FROM ${outbox}`);
    const profile = sql`jsonb_build_object('userId', u.id, 'email', u.email, 'fullName', u.full_name, 'contactNumber', u.contact_number)`;
    const queued = await rowsOf<{ key: string }>(
      tx,
      sql`INSERT INTO ${outbox} (topic, key, payload)
          SELECT ${TOPICS.create}, u.id, ${profile} FROM ${users} u
           WHERE u.role = 'Customer'
             AND NOT EXISTS (SELECT 1 FROM ${outbox} o WHERE o.key = u.id AND o.topic = ${TOPICS.create} AND o.state <> 'dead')
           ORDER BY u.created_at, u.id
          RETURNING key`,
    );
    // Inactive accounts among them: their record must end up Inactive. A second statement, so these rows get later
    // ids than the creates and are delivered after them (ids above `mark` are the rows just written).
    await tx.execute(
      sql`INSERT INTO ${outbox} (topic, key, payload)
          SELECT ${TOPICS.status}, u.id, ${profile} || jsonb_build_object('customerStatus', 'Inactive') FROM ${users} u
           WHERE u.role = 'Customer' AND NOT u.is_active
             AND EXISTS (SELECT 1 FROM ${outbox} o WHERE o.key = u.id AND o.topic = ${TOPICS.create} AND o.state = 'pending' AND o.id > ${mark!.id}::bigint)
           ORDER BY u.created_at, u.id`,
    );
    await tx.execute(sql`SELECT pg_notify(${getTableName(customerOutbox)}, '')`);
    return { queued: queued.length, requeued: Number(requeued[0]!.n) };
  });
}

/** Customer users, and those with a delivered customer.create (the "registrations vs provisioned" pair). */
export async function provisioningCoverage(db: Database): Promise<{ registered: number; provisioned: number }> {
  const rows = await rowsOf<{ registered: number; provisioned: number }>(
    db,
    sql`SELECT count(*)::int AS registered,
               count(*) FILTER (WHERE EXISTS (
                 SELECT 1 FROM ${outbox} o WHERE o.key = u.id AND o.topic = ${TOPICS.create} AND o.state = 'delivered'
               ))::int AS provisioned
          FROM ${users} u WHERE u.role = 'Customer'`,
  );
  return { registered: Number(rows[0]!.registered), provisioned: Number(rows[0]!.provisioned) };
}
