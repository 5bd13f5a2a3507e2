import {
  API_KEY_SECURITY,
  apiKeyGuard,
  errorBodySchema,
  HttpError,
  isDatabaseUnavailable,
  ok,
  SERVER_ERROR,
  successSchema,
  type App,
} from '@shop/service-kit';
import {
  createCustomerBody,
  customerIdParams,
  customerRecordSchema,
  profileSyncBody,
  statisticsBody,
  userIdParams,
} from '../customers/dto.ts';
import { toRecord } from '../customers/mappers.ts';
import type { CustomersService } from '../customers/service.ts';
import { internalErrors } from './common.ts';

const recordResponse = { 200: successSchema(customerRecordSchema), ...internalErrors };
const createResponse = { 200: successSchema(customerRecordSchema), 400: errorBodySchema, 401: errorBodySchema, 500: errorBodySchema, 503: errorBodySchema };

/** Service-to-service routes (x-api-key): ATHS provisioning, profile sync, order/complaint statistics. */
export function registerInternalRoutes(app: App, options: { service: CustomersService; apiKeys: readonly string[] }): void {
  const { service } = options;
  const guard = apiKeyGuard(options.apiKeys, ['x-api-key']);
  const tags = ['internal'];

  app.post(
    '/api/customers/internal/create',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Create the customer record of an ATHS user (idempotent on userId)',
        description:
          'Answers 200 "Customer created successfully" the first time and 200 "Customer already exists" with the existing ' +
          'record afterwards, under any concurrency. Email is stored lower-case and is not a uniqueness key.',
        security: API_KEY_SECURITY,
        body: createCustomerBody,
        response: createResponse,
      },
    },
    async (request) => {
      let result;
      try {
        result = await service.create(request.body);
      } catch (error) {
        // A database restart is a 503 (the kit's error handler), which ATHS retries like any unavailability.
        if (error instanceof HttpError || isDatabaseUnavailable(error)) throw error;
        // The integration guide's own 500 body for this endpoint.
        request.log.error({ err: error, userId: request.body.userId }, 'customer create failed');
        throw new HttpError(500, 'Failed to create customer record', [SERVER_ERROR]);
      }
      return ok(result.created ? 'Customer created successfully' : 'Customer already exists', toRecord(result.customer));
    },
  );

  app.get(
    '/api/customers/internal/user/:userId',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Get the customer record of an ATHS user',
        security: API_KEY_SECURITY,
        params: userIdParams,
        response: recordResponse,
      },
    },
    async (request) => ok('Customer retrieved successfully', toRecord(await service.getByUserId(request.params.userId))),
  );

  app.patch(
    '/api/customers/internal/:customerId/statistics',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Set and/or atomically increment order and complaint statistics',
        description:
          'Absolute values (≥ 0) and signed `increment` deltas are applied in one UPDATE statement; a change that would ' +
          'drive any counter below 0 is refused as a whole with 409.',
        security: API_KEY_SECURITY,
        params: customerIdParams,
        body: statisticsBody,
        response: recordResponse,
      },
    },
    async (request) =>
      ok('Customer statistics updated successfully', toRecord(await service.updateStatistics(request.params.customerId, request.body))),
  );

  app.patch(
    '/api/customers/internal/user/:userId',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'Keep the copied profile fields (and status) in step with ATHS',
        security: API_KEY_SECURITY,
        params: userIdParams,
        body: profileSyncBody,
        response: recordResponse,
      },
    },
    async (request) => ok('Customer updated successfully', toRecord(await service.syncProfile(request.params.userId, request.body))),
  );
}
