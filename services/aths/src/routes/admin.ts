import { z } from 'zod';
import { authOf, objectIdSchema, ok, paginationQuery, successSchema, type App } from '@shop/service-kit';
import type { AthsContext } from '../context.ts';
import {
  addressInput,
  contactNumberInput,
  emailInput,
  fullNameInput,
  passwordInput,
  publicUserSchema,
  roleSchema,
  toPublicUser,
  userDataSchema,
} from '../users/dto.ts';
import { bearerSecurity, errorResponses } from './common.ts';

const tags = ['admin'];
const userIdParams = z.object({ userId: objectIdSchema });

/** `data.users` with `{page, limit, total, pages}`: the shape the earlier ATHS sent and the mobile app reads (API.md). */
const userListSchema = z.object({
  users: z.array(publicUserSchema),
  pagination: z.object({ page: z.number(), limit: z.number(), total: z.number(), pages: z.number() }),
});

const booleanQuery = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .transform((value) => value === 'true');

export function registerAdminRoutes(app: App, ctx: AthsContext): void {
  const { users, guards } = ctx;
  const onRequest = guards.administrator;

  app.get(
    '/api/admin/users',
    {
      onRequest,
      schema: {
        tags,
        summary: 'List users',
        description: '`search` is a literal, case-insensitive substring of the name or e-mail.',
        security: bearerSecurity,
        querystring: paginationQuery.extend({
          role: roleSchema.optional(),
          isActive: booleanQuery.optional(),
          search: z.string().trim().max(100).optional(),
        }),
        response: { 200: successSchema(userListSchema), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { page, limit, role, isActive, search } = request.query;
      const { rows, total } = await users.listUsers({ page, limit, role, isActive, search: search || undefined });
      return ok('Users retrieved successfully', {
        users: rows.map(toPublicUser),
        pagination: { page, limit, total, pages: Math.ceil(total / limit) },
      });
    },
  );

  app.post(
    '/api/admin/users',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Create a user of any role',
        security: bearerSecurity,
        body: z.object({
          email: emailInput,
          password: passwordInput,
          fullName: fullNameInput,
          contactNumber: contactNumberInput,
          address: addressInput.optional(),
          role: roleSchema.default('Customer'),
        }),
        response: { 201: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const user = await users.createUser(request.body);
      return reply.code(201).send(ok('User created successfully', { user: toPublicUser(user) }));
    },
  );

  app.get(
    '/api/admin/stats',
    {
      onRequest,
      schema: {
        tags,
        summary: 'User counts',
        security: bearerSecurity,
        response: {
          200: successSchema(
            z.object({
              totalUsers: z.number(),
              activeUsers: z.number(),
              inactiveUsers: z.number(),
              verifiedUsers: z.number(),
              unverifiedUsers: z.number(),
              customerCount: z.number(),
              adminCount: z.number(),
            }),
          ),
          ...errorResponses(401, 403),
        },
      },
    },
    async () => ok('Statistics retrieved successfully', await users.stats()),
  );

  for (const [action, isActive] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    app.put(
      `/api/admin/users/:userId/${action}`,
      {
        onRequest,
        schema: {
          tags,
          summary: isActive ? 'Reactivate a user' : 'Deactivate a user (revokes their refresh tokens)',
          security: bearerSecurity,
          params: userIdParams,
          response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const user = await users.setActive(request.params.userId, isActive, 'admin', authOf(request).userId);
        return ok(isActive ? 'User activated successfully' : 'User deactivated successfully', { user: toPublicUser(user) });
      },
    );
  }

  app.put(
    '/api/admin/users/:userId/role',
    {
      onRequest,
      schema: {
        tags,
        summary: "Change a user's role (not your own)",
        security: bearerSecurity,
        params: userIdParams,
        body: z.object({ role: roleSchema }),
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = await users.changeRole(authOf(request).userId, request.params.userId, request.body.role);
      return ok('User role updated successfully', { user: toPublicUser(user) });
    },
  );

  app.delete(
    '/api/admin/users/:userId',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Delete a user permanently (not yourself, not the last Administrator)',
        security: bearerSecurity,
        params: userIdParams,
        response: {
          200: successSchema(z.object({ userId: z.string(), deletedAt: z.string() })),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      await users.deleteUser(authOf(request).userId, request.params.userId);
      return ok('User deleted successfully', { userId: request.params.userId, deletedAt: new Date().toISOString() });
    },
  );
}
