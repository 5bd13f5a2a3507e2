import { Histogram, type Registry } from 'prom-client';
import type { App } from './app.ts';
import { metricsGuard } from './operations-access.ts';

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
