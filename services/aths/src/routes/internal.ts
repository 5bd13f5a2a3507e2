import { API_KEY_SECURITY, errorResponses, HttpError, notFound, ok, successSchema, type App } from '@shop/service-kit';
import type { Administration } from '../accounts/administration.ts';
import { emailParams, statusBody, userIdParams } from '../accounts/dto.ts';
import type { UserLookups } from '../accounts/lookups.ts';
import type { GuardDeps, Guards } from '../http/guards.ts';
import { invalidTokenSchema, validateTokenBody, validTokenSchema } from '../sessions/dto.ts';
import { toPublicUser, userDataSchema } from '../users/dto.ts';
import type { UserRow } from '../users/schema.ts';

const tags = ['internal'];

export interface InternalRoutesDeps {
  lookups: UserLookups;
  administration: Administration;
  verifyAccessToken: GuardDeps['verifyAccessToken'];
  internalGuard: Guards['internal'];
}

/** The answer of both user look-ups: the user, or 404 naming the field looked up. */
function userFound(user: UserRow | undefined, field: string) {
  if (!user) throw notFound('User not found', field);
  return ok('User retrieved successfully', { user: toPublicUser(user) });
}

export function registerInternalRoutes(app: App, deps: InternalRoutesDeps): void {
  const { lookups, administration } = deps;
  const onRequest = deps.internalGuard;

  app.post(
    '/api/internal/validate-token',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Validate an access token (for services that do not verify JWTs themselves)',
        security: API_KEY_SECURITY,
        body: validateTokenBody,
        response: { 200: successSchema(validTokenSchema), 401: invalidTokenSchema, ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      try {
        const claims = await deps.verifyAccessToken(request.body.token);
        const active = await lookups.isActive(claims.userId);
        if (!active) {
          return reply.code(401).send({
            success: false as const,
            message: 'Invalid or expired token',
            errors: [{ field: 'account', message: 'The account is deactivated or no longer exists' }],
            data: { valid: false as const },
          });
        }
        return ok('Token is valid', { valid: true as const, userId: claims.userId, email: claims.email, role: claims.role });
      } catch (error) {
        if (!(error instanceof HttpError) || error.statusCode !== 401) throw error;
        return reply.code(401).send({ success: false as const, message: error.message, errors: error.errors, data: { valid: false as const } });
      }
    },
  );

  app.get(
    '/api/internal/user/:userId',
    {
      onRequest,
      schema: {
        tags,
        summary: 'A user by id',
        security: API_KEY_SECURITY,
        params: userIdParams,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => userFound(await lookups.byId(request.params.userId), 'userId'),
  );

  app.get(
    '/api/internal/user/email/:email',
    {
      onRequest,
      schema: {
        tags,
        summary: 'A user by e-mail address',
        security: API_KEY_SECURITY,
        params: emailParams,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => userFound(await lookups.byEmail(request.params.email), 'email'),
  );

  app.patch(
    '/api/internal/user/:userId/status',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Activate or deactivate a user (CRMS, when a customer is suspended or reactivated)',
        security: API_KEY_SECURITY,
        params: userIdParams,
        body: statusBody,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const user = await administration.setActive(request.params.userId, request.body.isActive, 'internal');
      return ok(request.body.isActive ? 'User activated successfully' : 'User deactivated successfully', { user: toPublicUser(user) });
    },
  );
}
