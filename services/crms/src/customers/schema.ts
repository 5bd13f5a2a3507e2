import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, numeric, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const CUSTOMER_STATUSES = ['Active', 'Inactive', 'Suspended'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];
export const CUSTOMER_TYPES = ['Regular', 'Premium', 'VIP'] as const;
export type CustomerType = (typeof CUSTOMER_TYPES)[number];

export interface CustomerNote {
  note: string;
  addedBy: string;
  addedAt: string;
}

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const customers = pgTable(
  'customers',
  {
    /** customerId: 24-hex ObjectId-style. */
    id: text('id').primaryKey(),
    /** The ATHS user id; the idempotency key of internal create. */
    userId: text('user_id').notNull(),
    email: text('email').notNull(),
    fullName: text('full_name').notNull(),
    contactNumber: text('contact_number').notNull(),
    customerStatus: text('customer_status', { enum: CUSTOMER_STATUSES }).notNull().default('Active'),
    customerType: text('customer_type', { enum: CUSTOMER_TYPES }).notNull().default('Regular'),
    totalOrders: integer('total_orders').notNull().default(0),
    totalOrderValue: numeric('total_order_value', { precision: 14, scale: 2, mode: 'number' }).notNull().default(0),
    totalComplaints: integer('total_complaints').notNull().default(0),
    openComplaints: integer('open_complaints').notNull().default(0),
    lastOrderDate: timestamptz('last_order_date'),
    lastComplaintDate: timestamptz('last_complaint_date'),
    customerSince: timestamptz('customer_since').notNull().defaultNow(),
    notes: jsonb('notes').$type<CustomerNote[]>().notNull().default(sql`'[]'::jsonb`),
    tags: jsonb('tags').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    preferences: jsonb('preferences').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /** The administrator (user id) who made the last administrative change; null until one does. */
    updatedBy: text('updated_by'),
    /** Set by the administrator's soft delete (status Inactive); cleared when the customer is made Active or Suspended again. */
    deletedAt: timestamptz('deleted_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('customers_user_id_key').on(table.userId),
    index('customers_status_idx').on(table.customerStatus),
    index('customers_type_idx').on(table.customerType),
    index('customers_customer_since_idx').on(table.customerSince),
    index('customers_created_at_idx').on(table.createdAt),
    check('customers_status_check', sql`${table.customerStatus} in ('Active', 'Inactive', 'Suspended')`),
    check('customers_type_check', sql`${table.customerType} in ('Regular', 'Premium', 'VIP')`),
    check(
      'customers_counters_check',
      sql`${table.totalOrders} >= 0 and ${table.totalOrderValue} >= 0 and ${table.totalComplaints} >= 0 and ${table.openComplaints} >= 0`,
    ),
  ],
);

export type CustomerRow = typeof customers.$inferSelect;

/** Audit trail of every status change: who, when, why, from what. */
export const customerStatusChanges = pgTable(
  'customer_status_changes',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    previousStatus: text('previous_status', { enum: CUSTOMER_STATUSES }).notNull(),
    status: text('status', { enum: CUSTOMER_STATUSES }).notNull(),
    reason: text('reason'),
    /** The administrator's user id, or `ATHS` for a change synchronised from the authentication service. */
    changedBy: text('changed_by').notNull(),
    changedAt: timestamptz('changed_at').notNull().defaultNow(),
  },
  (table) => [index('customer_status_changes_customer_idx').on(table.customerId, table.changedAt)],
);

export type CustomerStatusChangeRow = typeof customerStatusChanges.$inferSelect;
