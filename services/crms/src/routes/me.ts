import { authOf, BEARER_SECURITY, bearerGuard, ok, successSchema, type AccessClaims, type App } from '@shop/service-kit';
import { customerRecordSchema, statisticsSchema } from '../customers/dto.ts';
import { toRecord, toStatistics } from '../customers/mappers.ts';
import type { CustomersService } from '../customers/service.ts';
import { bearerErrors } from './common.ts';

/** The caller's own record (repaired from ATHS when a Customer has none yet). */
export function registerMeRoutes(
  app: App,
  options: { service: CustomersService; verify: (token: string) => Promise<AccessClaims> },
): void {
  const { service } = options;
  const guard = bearerGuard({ verify: options.verify, roles: ['Customer', 'Administrator'] });
  const tags = ['customer'];

  app.get(
    '/api/customers/me',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'My customer record',
        security: BEARER_SECURITY,
        response: { 200: successSchema(customerRecordSchema), ...bearerErrors },
      },
    },
    async (request) => ok('Customer profile retrieved successfully', toRecord(await service.getOwn(authOf(request)))),
  );

  app.get(
    '/api/customers/me/statistics',
    {
      onRequest: guard,
      schema: {
        tags,
        summary: 'My order and complaint statistics',
        security: BEARER_SECURITY,
        response: { 200: successSchema(statisticsSchema), ...bearerErrors },
      },
    },
    async (request) => ok('Customer statistics retrieved successfully', toStatistics(await service.getOwn(authOf(request)))),
  );
}
