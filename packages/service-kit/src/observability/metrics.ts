import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** One registry per service instance, so two services in one process (tests, `npm start`) never collide. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface SnapshotGauge<T> {
  name: string;
  help: string;
  pick: (snapshot: T) => number;
}

/**
 * Gauges whose values come from one query run at scrape time (so they are right across instances and restarts),
 * shared by all the gauges of one scrape. When the query fails, each gauge keeps its last value rather than
 * failing the whole scrape.
 */
export function registerSnapshotGauges<T>(registry: Registry, read: () => Promise<T>, gauges: SnapshotGauge<T>[]): void {
  let snapshot: Promise<T> | undefined;
  const shared = () => {
    snapshot ??= read().finally(() => setTimeout(() => (snapshot = undefined), 50).unref());
    return snapshot;
  };
  for (const { name, help, pick } of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(pick(await shared()));
        } catch {
          // Database unreachable: keep the last value.
        }
      },
    });
  }
}
