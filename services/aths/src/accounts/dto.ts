import { z } from 'zod';
import { badRequest, objectIdSchema, paginationQuery } from '@shop/service-kit';
import { tokenPairSchema } from '../sessions/dto.ts';
import { addressInput, contactNumberInput, emailInput, fullNameInput, passwordInput, publicUserSchema, roleSchema } from '../users/dto.ts';

/** A new account's fields: registration and an administrator's create. */
const newUserFields = {
  email: emailInput,
  password: passwordInput,
  fullName: fullNameInput,
  contactNumber: contactNumberInput,
  address: addressInput.optional(),
};

/** A password being checked rather than set: any non-empty string (older passwords may predate the rule). */
const currentPasswordInput = z.string().min(1).max(1024);
const oneTimeTokenInput = z.string().min(1).max(512);

export const registerBody = z.object({ ...newUserFields, role: z.string().optional().describe('Only `Customer` is accepted') });
export const createUserBody = z.object({ ...newUserFields, role: roleSchema.default('Customer') });
export const loginBody = z.object({ email: emailInput, password: currentPasswordInput });
export const forgotPasswordBody = z.object({ email: emailInput });
export const resetPasswordBody = z.object({
  token: oneTimeTokenInput.optional(),
  resetToken: oneTimeTokenInput.optional(),
  newPassword: passwordInput,
  confirmPassword: z.string().optional(),
});
export const verifyEmailBody = z.object({ token: oneTimeTokenInput });
export const verifyEmailQuery = z.object({ token: z.string().max(512).optional().describe('The token from the verification mail') });
export const verificationRedirectSchema = z.void().describe('Redirect (`Location` header) to the app, with `emailVerified` and, on failure, `reason`');
export const profileBody = z.object({
  fullName: fullNameInput.optional(),
  contactNumber: contactNumberInput.optional(),
  address: addressInput.optional(),
});
export const changePasswordBody = z.object({ currentPassword: currentPasswordInput, newPassword: passwordInput, confirmPassword: z.string().optional() });
export const closeAccountBody = z.object({
  password: currentPasswordInput,
  confirmation: z.literal('DELETE', { message: 'must be exactly "DELETE"' }),
});

/** A given confirmPassword must equal newPassword (password change and reset): else 400 naming it. */
export function assertConfirmed(body: { newPassword: string; confirmPassword?: string }): void {
  if (body.confirmPassword !== undefined && body.confirmPassword !== body.newPassword) {
    throw badRequest('Validation failed', 'body -> confirmPassword', 'must match newPassword');
  }
}

export const authResultSchema = z.object({ user: publicUserSchema, ...tokenPairSchema.shape });

export const userIdParams = z.object({ userId: objectIdSchema });
export const emailParams = z.object({ email: emailInput });

const booleanQuery = z.enum(['true', 'false'], { message: 'must be true or false' }).transform((value) => value === 'true');

export const userListQuery = paginationQuery.extend({
  role: roleSchema.optional(),
  isActive: booleanQuery.optional(),
  search: z.string().trim().max(100).optional(),
});

/** `data.users` with `{page, limit, total, pages}`: the shape the earlier ATHS sent and the mobile app reads (API.md). */
export const userListSchema = z.object({
  users: z.array(publicUserSchema),
  pagination: z.object({ page: z.number(), limit: z.number(), total: z.number(), pages: z.number() }),
});

export const userStatsSchema = z.object({
  totalUsers: z.number(),
  activeUsers: z.number(),
  inactiveUsers: z.number(),
  verifiedUsers: z.number(),
  unverifiedUsers: z.number(),
  customerCount: z.number(),
  adminCount: z.number(),
});

export const roleBody = z.object({ role: roleSchema });
export const statusBody = z.object({ isActive: z.boolean() });
export const deletedUserSchema = z.object({ userId: z.string(), deletedAt: z.string() });
