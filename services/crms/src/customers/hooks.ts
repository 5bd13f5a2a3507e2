import type { Transaction } from '@shop/service-kit';
import type { CustomerStatus } from './schema.ts';

export interface CustomerStatusChange {
  customerId: string;
  userId: string;
  status: CustomerStatus;
}

/**
 * Called by the customers service when an administrator writes a customer's status (PATCH /:customerId/status,
 * and DELETE, the soft delete that sets Inactive). `onCustomerStatusChanged` runs INSIDE the database transaction
 * of the status update (so a durable outbox row can be written atomically with it; throwing rolls the update
 * back and the request answers 500). `afterCommit` runs once the transaction has committed (e.g. to nudge a
 * delivery worker); it must not throw (errors are logged and ignored).
 *
 * Inside the hook use `tx`, never the database handle: on PGlite (one connection) the transaction holds that
 * connection, so a query on the database handle would wait for the transaction forever.
 *
 * It is called on every administrator status write, even when the value does not change, so that repeating a
 * write re-asserts the state in ATHS. It is NOT called for changes that come from ATHS itself
 * (PATCH /api/customers/internal/user/{userId}), which would only echo back.
 */
export interface CustomerStatusHooks {
  onCustomerStatusChanged(tx: Transaction, change: CustomerStatusChange): Promise<void>;
  afterCommit(): void;
}

export const noCustomerStatusHooks: CustomerStatusHooks = {
  async onCustomerStatusChanged() {},
  afterCommit() {},
};
