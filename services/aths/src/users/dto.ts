import { z } from 'zod';
import { personNameSchema, ROLES } from '@shop/service-kit';
import type { UserRow } from './schema.ts';

export const emailInput = z.string().trim().toLowerCase().max(254, 'must be at most 254 characters').pipe(z.email());

export const passwordInput = z
  .string()
  .min(8)
  .max(128)
  .regex(/(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])/, 'must contain at least one lower-case letter, one upper-case letter and one digit');

/** The kit's name rule (also CRMS's): no control or invisible formatting characters, 2–100 characters. */
export const fullNameInput = personNameSchema;

export const contactNumberInput = z
  .string()
  .trim()
  .min(10)
  .max(20)
  .regex(/^[0-9 +\-()]+$/, 'may contain only digits, spaces, +, -, ( and )');

const addressPart = (max: number) => z.string().trim().max(max).optional();

export const addressInput = z.object({
  street: addressPart(200),
  city: addressPart(100),
  state: addressPart(100),
  zipCode: addressPart(20),
  country: addressPart(100),
});

export const roleSchema = z.enum(ROLES);

export const publicUserSchema = z.object({
  _id: z.string(),
  email: z.string(),
  fullName: z.string(),
  contactNumber: z.string(),
  address: z.object({
    street: z.string().nullable(),
    city: z.string().nullable(),
    state: z.string().nullable(),
    zipCode: z.string().nullable(),
    country: z.string().nullable(),
  }),
  role: roleSchema,
  isActive: z.boolean(),
  emailVerified: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type PublicUser = z.infer<typeof publicUserSchema>;

/** The contract's user shape: never a hash, dates in ISO-8601 UTC. */
export function toPublicUser(row: UserRow): PublicUser {
  const address = row.address ?? {};
  return {
    _id: row.id,
    email: row.email,
    fullName: row.fullName,
    contactNumber: row.contactNumber,
    address: {
      street: address.street ?? null,
      city: address.city ?? null,
      state: address.state ?? null,
      zipCode: address.zipCode ?? null,
      country: address.country ?? null,
    },
    role: row.role,
    isActive: row.isActive,
    emailVerified: row.emailVerified,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

export const userDataSchema = z.object({ user: publicUserSchema });
