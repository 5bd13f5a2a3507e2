import { authOf, BEARER_SECURITY, errorResponses, ok, successSchema, type App } from '@shop/service-kit';
import type { Administration } from '../accounts/administration.ts';
import { createUserBody, deletedUserSchema, roleBody, userIdParams, userListQuery, userListSchema, userStatsSchema } from '../accounts/dto.ts';
import type { Registration } from '../accounts/registration.ts';
import type { Guards } from '../http/guards.ts';
import { toPublicUser, userDataSchema } from '../users/dto.ts';

const tags = ['admin'];

export interface AdminRoutesDeps {
  administration: Administration;
  registration: Registration;
  administratorGuard: Guards['administrator'];
}

export function registerAdminRoutes(app: App, deps: AdminRoutesDeps): void {
  const { administration, registration } = deps;
  const onRequest = deps.administratorGuard;

  app.get(
    '/api/admin/users',
    {
      onRequest,
      schema: {
        tags,
        summary: 'List users',
        description: '`search` is a literal, case-insensitive substring of the name or e-mail.',
        security: BEARER_SECURITY,
        querystring: userListQuery,
        response: { 200: successSchema(userListSchema), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { page, limit, role, isActive, search } = request.query;
      const { rows, total } = await administration.list({ page, limit, role, isActive, search: search || undefined });
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
        security: BEARER_SECURITY,
        body: createUserBody,
        response: { 201: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const user = await registration.createUser(request.body);
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
        security: BEARER_SECURITY,
        response: { 200: successSchema(userStatsSchema), ...errorResponses(401, 403) },
      },
    },
    async () => ok('Statistics retrieved successfully', await administration.stats()),
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
          security: BEARER_SECURITY,
          params: userIdParams,
          response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const user = await administration.setActive(request.params.userId, isActive, 'admin', authOf(request).userId);
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
        security: BEARER_SECURITY,
        params: userIdParams,
        body: roleBody,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = await administration.changeRole(authOf(request).userId, request.params.userId, request.body.role);
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
        security: BEARER_SECURITY,
        params: userIdParams,
        response: { 200: successSchema(deletedUserSchema), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await administration.deleteUser(authOf(request).userId, request.params.userId);
      return ok('User deleted successfully', { userId: request.params.userId, deletedAt: new Date().toISOString() });
    },
  );
}
