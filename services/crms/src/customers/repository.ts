import { newObjectId, preparedStatement, rowMapper, rowsOf, type Database, type Executor } from '@shop/service-kit';
import { and, asc, count, desc, eq, getTableName, ilike, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { CreateCustomerInput, SortField, StatisticsInput } from './dto.ts';
import { COUNTERS } from './dto.ts';
import {
  customers,
  customerStatusChanges,
  type CustomerNote,
  type CustomerRow,
  type CustomerStatus,
  type CustomerStatusChangeRow,
  type CustomerType,
} from './schema.ts';

const { id, userId, email, fullName, contactNumber } = customers;
/** The columns given, the others by their defaults (the statement the benchmark's floor runs). */
const INSERT_IF_ABSENT =
  `INSERT INTO ${getTableName(customers)} (${[id, userId, email, fullName, contactNumber].map((column) => column.name).join(', ')}) ` +
  `VALUES ($1, $2, $3, $4, $5) ON CONFLICT (${userId.name}) DO NOTHING RETURNING *`;
const BY_USER_ID = `SELECT * FROM ${getTableName(customers)} WHERE ${userId.name} = $1 LIMIT 1`;
const toCustomerRow = rowMapper(customers);

/**
 * The hot path (internal create, /me) written out for the kit's preparedStatement; the create is ONE statement that
 * returns the new row, or undefined when the user already had a record (docs/crms.md, "Performance choices").
 */
export function prepareHotPath(db: Database) {
  const insert = preparedStatement(db, 'crms_insert_customer_if_absent', INSERT_IF_ABSENT);
  const byUserId = preparedStatement(db, 'crms_customer_by_user_id', BY_USER_ID);
  return {
    async insertCustomerIfAbsent(input: CreateCustomerInput): Promise<CustomerRow | undefined> {
      const [row] = await insert([newObjectId(), input.userId, input.email, input.fullName, input.contactNumber]);
      return row && toCustomerRow(row);
    },
    async findCustomerByUserId(userId: string): Promise<CustomerRow | undefined> {
      const [row] = await byUserId([userId]);
      return row && toCustomerRow(row);
    },
  };
}

export async function findCustomerByUserId(executor: Executor, userId: string, forUpdate = false): Promise<CustomerRow | undefined> {
  const query = executor.select().from(customers).where(eq(customers.userId, userId)).limit(1);
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

export async function findCustomerById(executor: Executor, customerId: string, forUpdate = false): Promise<CustomerRow | undefined> {
  const query = executor.select().from(customers).where(eq(customers.id, customerId)).limit(1);
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

type SetSource = Record<string, unknown>;

const COUNTER_CAST: Record<(typeof COUNTERS)[number], string> = {
  totalOrders: 'integer',
  totalOrderValue: 'numeric',
  totalComplaints: 'integer',
  openComplaints: 'integer',
};

/**
 * Absolute values and signed increments in ONE UPDATE. The WHERE clause refuses the whole change when any
 * increment would drive its counter below 0, so concurrent increments neither lose updates nor go negative.
 * Returns undefined when no row was updated (unknown id, or a guard refused: the caller tells which).
 */
export async function applyStatistics(executor: Executor, customerId: string, input: StatisticsInput): Promise<CustomerRow | undefined> {
  const set: SetSource = { updatedAt: sql`now()` };
  const guards: SQL[] = [];
  for (const counter of COUNTERS) {
    const column = customers[counter];
    const absolute = input[counter];
    const delta = input.increment?.[counter];
    if (absolute !== undefined) {
      set[counter] = absolute;
    } else if (delta !== undefined && delta !== 0) {
      const change = sql`${column} + ${String(delta)}::${sql.raw(COUNTER_CAST[counter])}`;
      set[counter] = change;
      if (delta < 0) guards.push(sql`${change} >= 0`);
    }
  }
  if (input.lastOrderDate !== undefined) set.lastOrderDate = input.lastOrderDate === null ? null : new Date(input.lastOrderDate);
  if (input.lastComplaintDate !== undefined) {
    set.lastComplaintDate = input.lastComplaintDate === null ? null : new Date(input.lastComplaintDate);
  }
  const [row] = await executor
    .update(customers)
    .set(set as never)
    .where(and(eq(customers.id, customerId), ...guards))
    .returning();
  return row;
}

export interface ProfilePatch {
  email?: string;
  fullName?: string;
  contactNumber?: string;
  customerType?: CustomerType;
  tags?: string[];
  preferences?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export async function updateCustomer(
  executor: Executor,
  where: { customerId: string } | { userId: string },
  patch: ProfilePatch & { customerStatus?: CustomerStatus; deletedAt?: Date | null | SQL },
  updatedBy: string | undefined,
): Promise<CustomerRow | undefined> {
  const set: SetSource = { ...patch, updatedAt: sql`now()` };
  if (updatedBy !== undefined) set.updatedBy = updatedBy;
  for (const key of Object.keys(set)) if (set[key] === undefined) delete set[key];
  const condition = 'customerId' in where ? eq(customers.id, where.customerId) : eq(customers.userId, where.userId);
  const [row] = await executor
    .update(customers)
    .set(set as never)
    .where(condition)
    .returning();
  return row;
}

export async function appendNote(executor: Executor, customerId: string, note: CustomerNote, updatedBy: string) {
  const [row] = await executor
    .update(customers)
    .set({
      notes: sql`${customers.notes} || ${JSON.stringify([note])}::jsonb`,
      updatedBy,
      updatedAt: sql`now()`,
    })
    .where(eq(customers.id, customerId))
    .returning();
  return row;
}

export async function insertStatusChange(
  executor: Executor,
  change: { customerId: string; previousStatus: CustomerStatus; status: CustomerStatus; reason: string | null; changedBy: string },
): Promise<void> {
  await executor.insert(customerStatusChanges).values({ id: newObjectId(), ...change });
}

export async function statusHistoryOf(executor: Executor, customerId: string): Promise<CustomerStatusChangeRow[]> {
  return executor
    .select()
    .from(customerStatusChanges)
    .where(eq(customerStatusChanges.customerId, customerId))
    .orderBy(asc(customerStatusChanges.changedAt), asc(customerStatusChanges.id));
}

export interface ListFilter {
  status?: CustomerStatus;
  type?: CustomerType;
  /** Literal, case-insensitive substring of name, e-mail or phone; already escaped with likePattern. */
  pattern?: string;
  sortBy: SortField;
  sortOrder: 'asc' | 'desc';
  page: number;
  limit: number;
}

const SORT_COLUMNS: Record<SortField, PgColumn | SQL> = {
  customerSince: customers.customerSince,
  createdAt: customers.createdAt,
  totalOrders: customers.totalOrders,
  totalOrderValue: customers.totalOrderValue,
  lastOrderDate: customers.lastOrderDate,
  // Case-insensitive, and byte order so that both drivers (whatever their default collation) agree.
  fullName: sql`lower(${customers.fullName}) collate "C"`,
};

/**
 * One page of customers and the total. Soft-deleted customers are hidden unless the caller filters on a status
 * (asking for status=Inactive shows them; they are never Active or Suspended).
 */
export async function listCustomers(executor: Executor, filter: ListFilter): Promise<{ rows: CustomerRow[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(customers.customerStatus, filter.status));
  else conditions.push(isNull(customers.deletedAt));
  if (filter.type) conditions.push(eq(customers.customerType, filter.type));
  if (filter.pattern !== undefined) {
    conditions.push(
      or(
        ilike(customers.fullName, filter.pattern),
        ilike(customers.email, filter.pattern),
        ilike(customers.contactNumber, filter.pattern),
      )!,
    );
  }
  const where = and(...conditions);
  const direction = filter.sortOrder === 'asc' ? asc : desc;
  const sortColumn = SORT_COLUMNS[filter.sortBy];
  const nullsLast = filter.sortBy === 'lastOrderDate' ? sql`${direction(sortColumn)} nulls last` : direction(sortColumn);
  const [rows, totals] = await Promise.all([
    executor
      .select()
      .from(customers)
      .where(where)
      .orderBy(nullsLast, direction(customers.id))
      .limit(filter.limit)
      .offset((filter.page - 1) * filter.limit),
    executor.select({ total: count() }).from(customers).where(where),
  ]);
  return { rows, total: Number(totals[0]?.total ?? 0) };
}

interface AnalyticsRow {
  total: number;
  active: number;
  inactive: number;
  suspended: number;
  regular: number;
  premium: number;
  vip: number;
  total_orders: number;
  total_order_value: number;
  total_complaints: number;
  open_complaints: number;
  new_this_month: number;
}

/** Every figure of the analytics endpoint in one pass over the table. */
export async function customerAnalytics(executor: Executor): Promise<AnalyticsRow> {
  const [row] = await rowsOf<AnalyticsRow>(
    executor,
    sql`select
      count(*)::float8 as total,
      count(*) filter (where customer_status = 'Active')::float8 as active,
      count(*) filter (where customer_status = 'Inactive')::float8 as inactive,
      count(*) filter (where customer_status = 'Suspended')::float8 as suspended,
      count(*) filter (where customer_type = 'Regular')::float8 as regular,
      count(*) filter (where customer_type = 'Premium')::float8 as premium,
      count(*) filter (where customer_type = 'VIP')::float8 as vip,
      coalesce(sum(total_orders), 0)::float8 as total_orders,
      coalesce(sum(total_order_value), 0)::float8 as total_order_value,
      coalesce(sum(total_complaints), 0)::float8 as total_complaints,
      coalesce(sum(open_complaints), 0)::float8 as open_complaints,
      count(*) filter (
        where customer_since >= (date_trunc('month', now() at time zone 'UTC') at time zone 'UTC')
      )::float8 as new_this_month
    from customers`,
  );
  return row!;
}
