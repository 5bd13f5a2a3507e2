import { Gauge, type Registry } from 'prom-client';
import type { Database } from '@shop/service-kit';
import { provisioningCoverage } from './reconcile.ts';

/**
 * Registrations vs customers provisioned, read from the database on scrape (right across instances and restarts):
 * `aths_customer_users` (Customer accounts) and `aths_customer_users_provisioned` (those with a delivered
 * customer.create). The difference is what is still pending or dead-lettered.
 */
export function registerCoverageMetrics(registry: Registry, db: Database): void {
  let snapshot: Promise<{ registered: number; provisioned: number }> | undefined;
  const read = () => {
    snapshot ??= provisioningCoverage(db).finally(() => setTimeout(() => (snapshot = undefined), 50).unref());
    return snapshot;
  };
  const gauge = (name: string, help: string, pick: (value: { registered: number; provisioned: number }) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(pick(await read()));
        } catch {
          // Database unreachable: keep the last value.
        }
      },
    });
  gauge('aths_customer_users', 'Customer accounts in ATHS (registrations)', (value) => value.registered);
  gauge('aths_customer_users_provisioned', 'Customer accounts whose CRMS record creation was confirmed', (value) => value.provisioned);
}
