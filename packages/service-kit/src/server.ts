import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { App } from './http/app.ts';
import type { Registry } from 'prom-client';
import { installErrorHandler } from './http/error-handler.ts';
import { requestIdFrom } from './http/request-id.ts';
import { installUnknownRouteHandler } from './http/unknown-route.ts';
import { registerHealthRoutes, type ReadinessCheck } from './observability/health.ts';
import type { Logger } from './observability/logger.ts';
import { instrumentHttp } from './observability/metrics.ts';

export type { App };

export interface ServerOptions {
  service: string;
  version: string;
  description: string;
  logger: Logger;
  metrics: Registry;
  readiness: Record<string, ReadinessCheck>;
  /** Trust X-Forwarded-For from a proxy in front (for client IPs in rate limits and logs). */
  trustProxy?: boolean;
  bodyLimit?: number;
}

/**
 * A Fastify app with everything both services share: zod validation and OpenAPI from the same schemas, the
 * contract's envelope for every error, request ids, security headers, health, metrics and /docs.
 * The caller registers its routes on the result, then calls `ready()` or `listen()`.
 */
export async function buildServer(options: ServerOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    genReqId: requestIdFrom,
    disableRequestLogging: true,
    trustProxy: options.trustProxy ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('auth', null);
  // JSON only: anything else is a 415 rather than a string the schema then rejects.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
  });

  installErrorHandler(app);
  installUnknownRouteHandler(app);
  await app.register(helmet, { global: true });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: options.service, description: options.description, version: options.version },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  instrumentHttp(app, options.metrics);
  registerHealthRoutes(app, { service: options.service, version: options.version, checks: options.readiness });
  return app;
}

/**
 * Listens, and on SIGTERM/SIGINT stops accepting, lets in-flight requests finish, runs onClose hooks
 * (workers, database) and exits. A second signal, or a shutdown longer than `graceMs`, exits at once.
 */
export async function listenWithGracefulShutdown(
  app: App,
  address: { port: number; host: string },
  graceMs = 10_000,
): Promise<string> {
  const url = await app.listen(address);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('graceful shutdown timed out');
      process.exit(1);
    }, graceMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return url;
}
