import { authOf, BEARER_SECURITY, errorResponses, messageOnlySchema, ok, successSchema, type App } from '@shop/service-kit';
import type { Credentials } from '../accounts/credentials.ts';
import { assertConfirmed, changePasswordBody, closeAccountBody, profileBody } from '../accounts/dto.ts';
import type { Profile } from '../accounts/profile.ts';
import type { Guards } from '../http/guards.ts';
import type { RateLimits } from '../http/rate-limits.ts';
import { toPublicUser, userDataSchema } from '../users/dto.ts';

const tags = ['user'];

export interface UserRoutesDeps {
  profile: Profile;
  credentials: Credentials;
  rateLimits: RateLimits;
  userGuard: Guards['user'];
}

export function registerUserRoutes(app: App, deps: UserRoutesDeps): void {
  const { profile, credentials, rateLimits } = deps;
  const onRequest = deps.userGuard;

  app.get(
    '/api/user/profile',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Own profile',
        security: BEARER_SECURITY,
        response: { 200: successSchema(userDataSchema), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const user = await profile.get(authOf(request).userId);
      return ok('Profile retrieved successfully', { user: toPublicUser(user) });
    },
  );

  app.put(
    '/api/user/profile',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Edit own profile',
        description: 'Any of fullName, contactNumber, address (address fields are merged). Other keys are ignored.',
        security: BEARER_SECURITY,
        body: profileBody,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = await profile.update(authOf(request).userId, request.body);
      return ok('Profile updated successfully', { user: toPublicUser(user) });
    },
  );

  app.put(
    '/api/user/change-password',
    {
      onRequest,
      preHandler: rateLimits.currentPassword,
      schema: {
        tags,
        summary: 'Change own password (revokes every refresh token)',
        security: BEARER_SECURITY,
        body: changePasswordBody,
        response: { 200: messageOnlySchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      assertConfirmed(request.body);
      await credentials.changePassword(authOf(request).userId, request.body.currentPassword, request.body.newPassword);
      return ok('Password changed successfully. Please sign in again on your other devices');
    },
  );

  app.delete(
    '/api/user/account',
    {
      onRequest,
      preHandler: rateLimits.currentPassword,
      schema: {
        tags,
        summary: 'Close own account (soft delete: deactivates it and revokes its tokens)',
        security: BEARER_SECURITY,
        body: closeAccountBody,
        response: { 200: messageOnlySchema, ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request) => {
      await profile.close(authOf(request).userId, request.body.password);
      return ok('Account deleted successfully');
    },
  );
}
