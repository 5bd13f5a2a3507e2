import { z } from 'zod';
import { authOf, badRequest, messageOnlySchema, ok, successSchema, type App } from '@shop/service-kit';
import type { AthsContext } from '../context.ts';
import { addressInput, contactNumberInput, fullNameInput, passwordInput, toPublicUser, userDataSchema } from '../users/dto.ts';
import { bearerSecurity, errorResponses } from './common.ts';

const tags = ['user'];

export function registerUserRoutes(app: App, ctx: AthsContext): void {
  const { users, guards, rateLimits } = ctx;

  app.get(
    '/api/user/profile',
    {
      onRequest: guards.user,
      schema: {
        tags,
        summary: 'Own profile',
        security: bearerSecurity,
        response: { 200: successSchema(userDataSchema), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const user = await users.requireUser(authOf(request).userId);
      return ok('Profile retrieved successfully', { user: toPublicUser(user) });
    },
  );

  app.put(
    '/api/user/profile',
    {
      onRequest: guards.user,
      schema: {
        tags,
        summary: 'Edit own profile',
        description: 'Any of fullName, contactNumber, address (address fields are merged). Other keys are ignored.',
        security: bearerSecurity,
        body: z.object({
          fullName: fullNameInput.optional(),
          contactNumber: contactNumberInput.optional(),
          address: addressInput.optional(),
        }),
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = await users.updateProfile(authOf(request).userId, request.body);
      return ok('Profile updated successfully', { user: toPublicUser(user) });
    },
  );

  app.put(
    '/api/user/change-password',
    {
      onRequest: guards.user,
      preHandler: rateLimits.currentPassword,
      schema: {
        tags,
        summary: 'Change own password (revokes every refresh token)',
        security: bearerSecurity,
        body: z.object({
          currentPassword: z.string().min(1).max(1024),
          newPassword: passwordInput,
          confirmPassword: z.string().optional(),
        }),
        response: { 200: messageOnlySchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { currentPassword, newPassword, confirmPassword } = request.body;
      if (confirmPassword !== undefined && confirmPassword !== newPassword) {
        throw badRequest('Validation failed', 'body -> confirmPassword', 'must match newPassword');
      }
      await users.changePassword(authOf(request).userId, currentPassword, newPassword);
      return ok('Password changed successfully. Please sign in again on your other devices');
    },
  );

  app.delete(
    '/api/user/account',
    {
      onRequest: guards.user,
      preHandler: rateLimits.currentPassword,
      schema: {
        tags,
        summary: 'Close own account (soft delete: deactivates it and revokes its tokens)',
        security: bearerSecurity,
        body: z.object({
          password: z.string().min(1).max(1024),
          confirmation: z.literal('DELETE', { message: 'must be exactly "DELETE"' }),
        }),
        response: { 200: messageOnlySchema, ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request) => {
      await users.deleteOwnAccount(authOf(request).userId, request.body.password);
      return ok('Account deleted successfully');
    },
  );
}
