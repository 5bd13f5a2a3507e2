import { z } from 'zod';
import { HttpError, notFound, objectIdSchema, ok, successSchema, type App } from '@shop/service-kit';
import type { AthsContext } from '../context.ts';
import { emailInput, toPublicUser, userDataSchema } from '../users/dto.ts';
import { apiKeySecurity, errorResponses } from './common.ts';

const tags = ['internal'];

export function registerInternalRoutes(app: App, ctx: AthsContext): void {
  const { users, guards } = ctx;
  const onRequest = guards.internal;

  app.post(
    '/api/internal/validate-token',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Validate an access token (for services that do not verify JWTs themselves)',
        security: apiKeySecurity,
        body: z.object({ token: z.string().min(1).max(4096) }),
        response: {
          200: successSchema(z.object({ valid: z.literal(true), userId: z.string(), email: z.string(), role: z.string() })),
          401: z.object({
            success: z.literal(false),
            message: z.string(),
            errors: z.array(z.object({ field: z.string(), message: z.string() })),
            data: z.object({ valid: z.literal(false) }).optional(),
          }),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      try {
        const claims = await ctx.verifyAccessToken(request.body.token);
        const active = await users.isActive(claims.userId);
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
        security: apiKeySecurity,
        params: z.object({ userId: objectIdSchema }),
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const user = await users.findUser(request.params.userId);
      if (!user) throw notFound('User not found', 'userId');
      return ok('User retrieved successfully', { user: toPublicUser(user) });
    },
  );

  app.get(
    '/api/internal/user/email/:email',
    {
      onRequest,
      schema: {
        tags,
        summary: 'A user by e-mail address',
        security: apiKeySecurity,
        params: z.object({ email: emailInput }),
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const user = await users.findUserByEmail(request.params.email);
      if (!user) throw notFound('User not found', 'email');
      return ok('User retrieved successfully', { user: toPublicUser(user) });
    },
  );

  app.patch(
    '/api/internal/user/:userId/status',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Activate or deactivate a user (CRMS, when a customer is suspended or reactivated)',
        security: apiKeySecurity,
        params: z.object({ userId: objectIdSchema }),
        body: z.object({ isActive: z.boolean() }),
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const user = await users.setActive(request.params.userId, request.body.isActive, 'internal');
      return ok(request.body.isActive ? 'User activated successfully' : 'User deactivated successfully', { user: toPublicUser(user) });
    },
  );
}
