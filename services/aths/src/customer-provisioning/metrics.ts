import type { Registry } from 'prom-client';
import { registerSnapshotGauges, type Database } from '@shop/service-kit';
import { provisioningCoverage } from './reconcile.ts';

/**
 * Registrations vs customers provisioned, read from the database on scrape (right across instances and restarts):
 * `aths_customer_users` (Customer accounts) and `aths_customer_users_provisioned` (those with a delivered
 * customer.create). The difference is what is still pending or dead-lettered.
 */
export function registerCoverageMetrics(registry: Registry, db: Database): void {
  registerSnapshotGauges(registry, () => provisioningCoverage(db), [
    { name: 'aths_customer_users', help: 'Customer accounts in ATHS (registrations)', pick: (value) => value.registered },
    {
      name: 'aths_customer_users_provisioned',
      help: 'Customer accounts whose CRMS record creation was confirmed',
      pick: (value) => value.provisioned,
    },
  ]);
}
