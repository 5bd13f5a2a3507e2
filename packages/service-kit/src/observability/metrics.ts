import type { App } from '../http/app.ts';
import { metricsGuard } from '../http/operations-access.ts';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per service instance, so two services in one process (tests, `npm start`) never collide. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Request duration by route pattern (not raw URL, to keep label cardinality bounded) and status, and `GET /metrics`
 * (behind a bearer token when `tokens` has any).
 */
export function instrumentHttp(app: App, registry: Registry, tokens: readonly string[] = []): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  const onRequest = tokens.length > 0 ? { onRequest: metricsGuard(tokens) } : {};
  app.get('/metrics', { schema: { hide: true }, ...onRequest }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
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
