import type { Transaction } from '@shop/service-kit';
import type { CustomerStatus } from './schema.ts';

export interface CustomerStatusChange {
  customerId: string;
  userId: string;
  status: CustomerStatus;
}

/**
 * Administrator status writes → ATHS. `onCustomerStatusChanged` runs inside the update's transaction: use `tx`, as on
 * PGlite the database handle would wait for ever. When each is called: docs/crms.md, "Public surface for other code".
 */
export interface CustomerStatusHooks {
  onCustomerStatusChanged(tx: Transaction, change: CustomerStatusChange): Promise<void>;
  afterCommit(): void;
}

export const noCustomerStatusHooks: CustomerStatusHooks = {
  async onCustomerStatusChanged() {},
  afterCommit() {},
};
