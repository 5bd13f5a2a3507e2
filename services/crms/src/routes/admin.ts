import { authOf, BEARER_SECURITY, bearerGuard, ok, paginate, successSchema, type AccessClaims, type App } from '@shop/service-kit';
import {
  adminCustomerSchema,
  analyticsSchema,
  customerIdParams,
  customerListSchema,
  deletedSchema,
  listQuery,
  noteBody,
  searchQuery,
  statusBody,
  typeBody,
  updateCustomerBody,
} from '../customers/dto.ts';
import { toListItem } from '../customers/mappers.ts';
import type { CustomersService } from '../customers/service.ts';
import { bearerErrors } from './common.ts';

/** Administrator routes: list, search, analytics, details and every administrative change (recorded with updatedBy). */
export function registerAdminRoutes(
  app: App,
  options: {
    service: CustomersService;
    verify: (token: string) => Promise<AccessClaims>;
    /** ATHS's current word on the caller (role, isActive, still existing), not only the token's claims. */
    isAdministratorActive: (claims: AccessClaims) => Promise<boolean>;
  },
): void {
  const { service } = options;
  const guard = bearerGuard({ verify: options.verify, roles: ['Administrator'], isAccountActive: options.isAdministratorActive });
  const tags = ['administrator'];
  const security = BEARER_SECURITY;
  const adminResponse = { 200: successSchema(adminCustomerSchema), ...bearerErrors };

  app.get(
    '/api/customers',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'List customers (filters, sorting, pagination); a bare `{items, pagination}`, no envelope',
        description:
          'Soft-deleted customers are hidden unless `status` is given (status=Inactive shows them). `search` is a literal, ' +
          'case-insensitive substring of name, e-mail or phone.',
        security,
        querystring: listQuery,
        // The bare list, without the envelope: the shape the earlier CRMS sent and the mobile app reads (API.md).
        response: { 200: customerListSchema, ...bearerErrors },
      },
    },
    async (request) => {
      const query = request.query;
      const { rows, total } = await service.list(query);
      return paginate(rows.map(toListItem), total, query.page, query.limit);
    },
  );

  app.get(
    '/api/customers/search',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Search customers by a literal substring of name, e-mail or phone; a bare `{items, pagination}`',
        description: 'Case-insensitive; `%`, `_` and `\\` match themselves. Soft-deleted customers are not returned. Newest first.',
        security,
        querystring: searchQuery,
        response: { 200: customerListSchema, ...bearerErrors },
      },
    },
    async (request) => {
      const { q, page, limit } = request.query;
      const { rows, total } = await service.search(q, page, limit);
      return paginate(rows.map(toListItem), total, page, limit);
    },
  );

  app.get(
    '/api/customers/analytics',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Customer analytics (all customers, soft-deleted ones included)',
        security,
        response: { 200: successSchema(analyticsSchema), ...bearerErrors },
      },
    },
    async () => ok('Customer analytics retrieved successfully', await service.analytics()),
  );

  app.get(
    '/api/customers/:customerId',
    {
      onRequest: guard,
      schema: { tags, summary: 'Customer details', security, params: customerIdParams, response: adminResponse },
    },
    async (request) => ok('Customer details retrieved successfully', await service.adminView(request.params.customerId)),
  );

  app.put(
    '/api/customers/:customerId',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Update a customer (fullName, contactNumber, customerType, tags, preferences, metadata)',
        description: '`tags`, `preferences` and `metadata` replace the stored value.',
        security,
        params: customerIdParams,
        body: updateCustomerBody,
        response: adminResponse,
      },
    },
    async (request) => {
      const row = await service.update(request.params.customerId, request.body, authOf(request).userId);
      return ok('Customer updated successfully', await service.adminView(row.id, row));
    },
  );

  app.patch(
    '/api/customers/:customerId/status',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Set a customer status (audit trail of reason, who, when; propagated to ATHS)',
        security,
        params: customerIdParams,
        body: statusBody,
        response: adminResponse,
      },
    },
    async (request) => {
      const { status, reason } = request.body;
      const row = await service.changeStatus(request.params.customerId, status, authOf(request).userId, { reason });
      return ok(`Customer status updated to ${status}`, await service.adminView(row.id, row));
    },
  );

  app.patch(
    '/api/customers/:customerId/type',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Set a customer type (`type`, or `customerType`)',
        security,
        params: customerIdParams,
        body: typeBody,
        response: adminResponse,
      },
    },
    async (request) => {
      const type = (request.body.type ?? request.body.customerType)!;
      const row = await service.setType(request.params.customerId, type, authOf(request).userId);
      return ok(`Customer type updated to ${type}`, await service.adminView(row.id, row));
    },
  );

  app.post(
    '/api/customers/:customerId/notes',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Add a note (`notes`, or `content`; 1–1000 characters)',
        security,
        params: customerIdParams,
        body: noteBody,
        response: { 201: successSchema(adminCustomerSchema), ...bearerErrors },
      },
    },
    async (request, reply) => {
      const text = (request.body.notes ?? request.body.content)!;
      const row = await service.addNote(request.params.customerId, text, authOf(request).userId);
      return reply.code(201).send(ok('Note added successfully', await service.adminView(row.id, row)));
    },
  );

  app.delete(
    '/api/customers/:customerId',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Soft-delete a customer (status Inactive, hidden from lists; propagated to ATHS)',
        security,
        params: customerIdParams,
        response: { 200: successSchema(deletedSchema), ...bearerErrors },
      },
    },
    async (request) => {
      const row = await service.changeStatus(request.params.customerId, 'Inactive', authOf(request).userId, {
        reason: 'Customer deleted',
        softDelete: true,
      });
      return ok('Customer deleted successfully', { customerId: row.id, deletedAt: row.deletedAt!.toISOString() });
    },
  );
}
