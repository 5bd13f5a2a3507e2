import { sql } from 'drizzle-orm';
import { jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { JWK } from 'jose';

/**
 * Access-token signing keys (Ed25519). Exactly one key is current (`retired_at IS NULL`, enforced by a partial
 * unique index, so two instances starting together cannot both create one). Retired keys stay published in the
 * JWKS until every token they signed has expired.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    algorithm: text('algorithm').notNull(),
    publicJwk: jsonb('public_jwk').$type<JWK>().notNull(),
    privateJwk: jsonb('private_jwk').$type<JWK>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true, precision: 3 }),
  },
  (table) => [
    uniqueIndex('signing_keys_one_current').on(sql`(${table.retiredAt} IS NULL)`).where(sql`${table.retiredAt} IS NULL`),
  ],
);

export type SigningKeyRow = typeof signingKeys.$inferSelect;
