import { listSchema, objectIdSchema, paginationQuery, personNameSchema } from '@shop/service-kit';
import { z } from 'zod';
import { CUSTOMER_STATUSES, CUSTOMER_TYPES } from './schema.ts';

// ---------------------------------------------------------------------------------------------------------------
// Field rules (input)
// ---------------------------------------------------------------------------------------------------------------

// NUL and unpaired surrogates (which neither text nor jsonb can hold) are refused for every string of every request
// by the kit (a 400 naming the field), so the rules below need not repeat it.

/** The integration guide only asks for ≥ 1 character; 255 keeps a hostile value from overflowing the unique index. */
const userIdField = z.string().min(1).max(255);
/** Valid address, trimmed, stored lower-case (not a uniqueness key in CRMS). */
const emailField = z.string().trim().toLowerCase().email().max(254);
/** A name an administrator types: the kit's rule, the one ATHS applies (no control or invisible formatting characters). */
const fullNameField = personNameSchema;
/**
 * The name in ATHS's copy of a user (internal create and profile sync, repair on read): length only, so that a name
 * ATHS stored before the name rule existed still reaches CRMS instead of dead-lettering the customer (docs/crms.md).
 */
const mirroredFullNameField = z.string().trim().min(2).max(100);
/** The integration guide's rule: 10–20 characters (after trimming), no character class imposed. */
const contactNumberField = z.string().trim().min(10).max(20);
const customerStatusField = z.enum(CUSTOMER_STATUSES);
const customerTypeField = z.enum(CUSTOMER_TYPES);

export const customerIdParams = z.object({ customerId: objectIdSchema });
export const userIdParams = z.object({ userId: userIdField });

export const createCustomerBody = z.object({
  userId: userIdField,
  email: emailField,
  fullName: mirroredFullNameField,
  contactNumber: contactNumberField,
});
export type CreateCustomerInput = z.output<typeof createCustomerBody>;

/** Counters are 32-bit integers (values up to 10^9 per request); order value is stored with 2 decimals (cents). */
const MAX_COUNT = 1_000_000_000;
// numeric(14,2): 12 digits before the decimal point.
const MAX_VALUE = 999_999_999_999.99;
const count = z.number().int().min(0).max(MAX_COUNT);
const money = z.number().min(0).max(MAX_VALUE);
const countDelta = z.number().int().min(-MAX_COUNT).max(MAX_COUNT);
const moneyDelta = z.number().min(-MAX_VALUE).max(MAX_VALUE);
// The instants CRMS stores and reads back exactly. Dates reach PostgreSQL as Date#toISOString(), which it reads for
// years 1–9999 only (no year 0; an offset can push a date past either end), and come back as PostgreSQL's text,
// which JavaScript's Date misreads for years 1–99 (0001 becomes 2001): hence years 100–9999 (docs/crms.md).
const FIRST_STORABLE = Date.parse('0100-01-01T00:00:00.000Z');
const LAST_STORABLE = Date.parse('9999-12-31T23:59:59.999Z');
const storableInstant = (value: string) => {
  const time = Date.parse(value);
  return time >= FIRST_STORABLE && time <= LAST_STORABLE;
};
const dateOrNull = z.iso
  .datetime({ offset: true, abort: true })
  .refine(storableInstant, 'must be between 0100-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z')
  .nullable();

export const COUNTERS = ['totalOrders', 'totalOrderValue', 'totalComplaints', 'openComplaints'] as const;

export const statisticsBody = z
  .object({
    totalOrders: count.optional(),
    totalOrderValue: money.optional(),
    totalComplaints: count.optional(),
    openComplaints: count.optional(),
    lastOrderDate: dateOrNull.optional(),
    lastComplaintDate: dateOrNull.optional(),
    increment: z
      .object({
        totalOrders: countDelta.optional(),
        totalOrderValue: moneyDelta.optional(),
        totalComplaints: countDelta.optional(),
        openComplaints: countDelta.optional(),
      })
      .optional(),
  })
  .superRefine((body, ctx) => {
    const keys = Object.keys(body).filter((key) => body[key as keyof typeof body] !== undefined);
    if (keys.length === 0 || (keys.length === 1 && body.increment && Object.keys(body.increment).length === 0)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'at least one statistic or increment must be provided' });
    }
    for (const counter of COUNTERS) {
      if (body[counter] !== undefined && body.increment?.[counter] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['increment', counter],
          message: `cannot set ${counter} and increment it in the same request`,
        });
      }
    }
  });
export type StatisticsInput = z.output<typeof statisticsBody>;

const atLeastOne = (what: string) => (body: Record<string, unknown>, ctx: z.RefinementCtx) => {
  if (Object.values(body).every((value) => value === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: `at least one of ${what} must be provided` });
  }
};

export const profileSyncBody = z
  .object({
    email: emailField.optional(),
    fullName: mirroredFullNameField.optional(),
    contactNumber: contactNumberField.optional(),
    customerStatus: customerStatusField.optional(),
  })
  .superRefine(atLeastOne('email, fullName, contactNumber, customerStatus'));
export type ProfileSyncInput = z.output<typeof profileSyncBody>;

/** Any JSON object (the kit has already refused keys and strings jsonb cannot store); requests and responses alike. */
const jsonObject = z.record(z.string(), z.unknown());
const MAX_TAGS = 50;

export const updateCustomerBody = z
  .object({
    fullName: fullNameField.optional(),
    contactNumber: contactNumberField.optional(),
    customerType: customerTypeField.optional(),
    tags: z.array(z.string().trim().min(1).max(50)).max(MAX_TAGS).optional(),
    preferences: jsonObject.optional(),
    metadata: jsonObject.optional(),
  })
  .superRefine(atLeastOne('fullName, contactNumber, customerType, tags, preferences, metadata'));
export type UpdateCustomerInput = z.output<typeof updateCustomerBody>;

export const statusBody = z.object({
  status: customerStatusField,
  reason: z.string().trim().max(500).optional(),
});

export const typeBody = z
  .object({ type: customerTypeField.optional(), customerType: customerTypeField.optional() })
  .superRefine((body, ctx) => {
    if (body.type === undefined && body.customerType === undefined) {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'field required' });
    } else if (body.type !== undefined && body.customerType !== undefined && body.type !== body.customerType) {
      ctx.addIssue({ code: 'custom', path: ['customerType'], message: 'must equal type when both are sent' });
    }
  });

const noteText = z.string().trim().min(1).max(1000);
export const noteBody = z
  .object({ notes: noteText.optional(), content: noteText.optional() })
  .superRefine((body, ctx) => {
    if (body.notes === undefined && body.content === undefined) {
      ctx.addIssue({ code: 'custom', path: ['notes'], message: 'field required' });
    }
  });

const SORT_FIELDS = ['customerSince', 'createdAt', 'totalOrders', 'totalOrderValue', 'lastOrderDate', 'fullName'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export const listQuery = paginationQuery.extend({
  status: customerStatusField.optional(),
  type: customerTypeField.optional(),
  sortBy: z.enum(SORT_FIELDS).default('customerSince'),
  sortOrder: z.enum(['asc', 'desc']).default('desc'),
  search: z.string().trim().max(100).optional(),
});
export type ListQuery = z.output<typeof listQuery>;

export const searchQuery = paginationQuery.extend({
  q: z.string().trim().min(2).max(100),
});

// ---------------------------------------------------------------------------------------------------------------
// Responses (also the serializers: keys in this order, dates as ISO strings)
// ---------------------------------------------------------------------------------------------------------------

const noteSchema = z.object({ note: z.string(), addedBy: z.string(), addedAt: z.string() });

/** The statistics fields, in the order both the record and GET /me/statistics use. */
const statisticsShape = {
  totalOrders: z.number(),
  totalOrderValue: z.number(),
  totalComplaints: z.number(),
  openComplaints: z.number(),
  lastOrderDate: z.string().nullable(),
  lastComplaintDate: z.string().nullable(),
  customerSince: z.string(),
};

const listItemShape = {
  customerId: z.string(),
  userId: z.string(),
  email: z.string(),
  fullName: z.string(),
  contactNumber: z.string(),
  customerStatus: customerStatusField,
  customerType: customerTypeField,
  ...statisticsShape,
};

/** The customer record, field for field in the integration guide's order, then createdAt/updatedAt (the contract). */
export const customerRecordSchema = z.object({
  ...listItemShape,
  notes: z.array(noteSchema),
  tags: z.array(z.string()),
  preferences: jsonObject,
  metadata: jsonObject,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CustomerRecord = z.output<typeof customerRecordSchema>;

/** List items: the record minus notes, preferences and metadata. */
const customerListItemSchema = z.object({
  ...listItemShape,
  tags: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CustomerListItem = z.output<typeof customerListItemSchema>;
export const customerListSchema = listSchema(customerListItemSchema);

const statusChangeSchema = z.object({
  previousStatus: customerStatusField,
  status: customerStatusField,
  reason: z.string().nullable(),
  changedBy: z.string(),
  changedAt: z.string(),
});

/** What administrators see: the record plus who last changed it, when it was soft-deleted and its status trail. */
export const adminCustomerSchema = customerRecordSchema.extend({
  updatedBy: z.string().nullable(),
  deletedAt: z.string().nullable(),
  statusHistory: z.array(statusChangeSchema),
});
export type AdminCustomer = z.output<typeof adminCustomerSchema>;

export const statisticsSchema = z.object(statisticsShape);

export const analyticsSchema = z.object({
  totalCustomers: z.number(),
  customersByStatus: z.object({ Active: z.number(), Inactive: z.number(), Suspended: z.number() }),
  customersByType: z.object({ Regular: z.number(), Premium: z.number(), VIP: z.number() }),
  orderStatistics: z.object({ totalOrders: z.number(), totalOrderValue: z.number(), averageOrderValue: z.number() }),
  complaintStatistics: z.object({ totalComplaints: z.number(), openComplaints: z.number() }),
  newCustomersThisMonth: z.number(),
  generatedAt: z.string(),
});
export type Analytics = z.output<typeof analyticsSchema>;

export const deletedSchema = z.object({ customerId: z.string(), deletedAt: z.string() });
