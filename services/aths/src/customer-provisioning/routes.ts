import { BEARER_SECURITY, errorResponses, ok, successSchema, type App } from '@shop/service-kit';
import type { Guards } from '../http/guards.ts';
import { reconcileResultSchema, requeuedSchema, retryBody, syncStatusSchema, type SyncStatus } from './dto.ts';
import type { ReconcileResult } from './reconcile.ts';

const tags = ['admin'];

export interface CustomerSyncOperations {
  status(): Promise<SyncStatus>;
  retry(userIds?: string[]): Promise<number>;
  reconcile(): Promise<ReconcileResult>;
}

/** GET/POST /api/admin/customer-sync[/retry|/reconcile]: the provisioning state and the operator's levers. */
export function registerCustomerSyncRoutes(app: App, onRequest: Guards['administrator'], provisioning: CustomerSyncOperations): void {

  app.get(
    '/api/admin/customer-sync',
    {
      onRequest,
      schema: {
        tags,
        summary: 'State of CRMS provisioning',
        description:
          'Outbox counts by state, age of the oldest pending message, Customer accounts vs confirmed CRMS records, and ' +
          'the dead-lettered messages (at most 100, oldest first) with their last error.',
        security: BEARER_SECURITY,
        response: { 200: successSchema(syncStatusSchema), ...errorResponses(401, 403) },
      },
    },
    async () => ok('Customer sync status retrieved successfully', await provisioning.status()),
  );

  app.post(
    '/api/admin/customer-sync/retry',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Re-queue dead-lettered provisioning messages now',
        description:
          'Without a body (or without `userIds`): every dead-lettered message. With `userIds`: only those users\' ' +
          'dead-lettered messages, and their pending retries are made due now.',
        security: BEARER_SECURITY,
        body: retryBody,
        response: { 200: successSchema(requeuedSchema), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => ok('Customer sync retry queued', { requeued: await provisioning.retry(request.body?.userIds) }),
  );

  app.post(
    '/api/admin/customer-sync/reconcile',
    {
      onRequest,
      schema: {
        tags,
        summary: 'Queue every Customer without a confirmed CRMS record',
        description:
          'Customers with no pending or delivered create are queued; dead-lettered creates of Customers are re-queued. ' +
          'Safe to repeat: CRMS creates are idempotent.',
        security: BEARER_SECURITY,
        response: { 200: successSchema(reconcileResultSchema), ...errorResponses(401, 403) },
      },
    },
    async () => ok('Customer sync reconciliation queued', await provisioning.reconcile()),
  );
}
