import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyServerFactory } from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { App } from './http/app.ts';
import type { Registry } from 'prom-client';
import { errorBody } from './http/envelope.ts';
import { clientErrorHandler } from './http/client-error.ts';
import { corsHeadersFor, registerCors } from './http/cors.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { installSecurityHeaders, securityHeaders } from './http/security-headers.ts';
import type { OperationsAccess } from './http/operations-access.ts';
import { closeIdleConnectionsUntilClosed, exitOnSignals } from './http/shutdown.ts';
import { requestIdFrom } from './http/request-id.ts';
import { responseSerializerCompiler } from './http/response-serializer.ts';
import { installTextGuard } from './http/text-guard.ts';
import { installUnknownRouteHandler } from './http/unknown-route.ts';
import { registerHealthRoutes, type ReadinessCheck } from './http/health.ts';
import { urlForLog, writesRequestLine, type Logger } from './observability/logger.ts';
import { instrumentHttp } from './http/request-metrics.ts';
import { installRequestSpans } from './http/request-spans.ts';
import { tracingEnabled } from './observability/tracing.ts';

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
  /** Serve on a server the caller made (startService's, listening before the app exists) instead of listen(). */
  serverFactory?: FastifyServerFactory;
  /** Exact browser origins allowed by CORS (`corsOrigins()` reads them from CORS_ORIGINS); none: no CORS headers. */
  corsOrigins?: readonly string[];
  /** Who may read /metrics and /docs (`operationsAccess(config)`); default: both open. */
  operations?: OperationsAccess;
}

/**
 * A Fastify app with everything both services share: zod validation and OpenAPI from the same schemas, the
 * contract's envelope for every error, request ids, security headers, health, metrics and /docs.
 * The caller registers its routes on the result, then calls `ready()` or `listen()`.
 */
export async function buildServer(options: ServerOptions): Promise<App> {
  const corsHeaders = corsHeadersFor(options.corsOrigins ?? []);
  const security = await securityHeaders();
  const loggerInstance: FastifyBaseLogger = options.logger; // so that App's logger type is Fastify's own
  const app = Fastify({
    loggerInstance,
    genReqId: requestIdFrom,
    // One line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: options.trustProxy ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Closing: idle keep-alive connections closed, requests arriving on open ones answered 503 with Connection: close
    // (what stays open is a connection busy at close time: see closeIdleConnectionsUntilClosed).
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // What Node's HTTP parser refuses (431 oversized headers, 400, 408) answers in the envelope too.
    clientErrorHandler: clientErrorHandler(security.api),
    ...(options.serverFactory ? { serverFactory: options.serverFactory } : {}),
    // Errors raised by the router before any hook runs (malformed percent-encoding, a path parameter over
    // maxParamLength) leave in the contract's envelope too, as a 400 naming the path.
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'The URL is not valid';
      const cors = corsHeaders(request.headers.origin);
      if (cors) void reply.headers(cors);
      void reply
        .code(400)
        .header('x-request-id', request.id)
        .send(errorBody(message, [{ field: 'path', message }]));
    },
  }).withTypeProvider<ZodTypeProvider>();

  // Before every other hook and route: the request's span wraps them (README "Tracing").
  if (tracingEnabled()) installRequestSpans(app, options.service, options.logger);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  app.decorateRequest('auth', null);
  // JSON only: anything else is a 415 rather than a string the schema then rejects.
  app.removeContentTypeParser('text/plain');
  // JSON bodies that are not UTF-8, and U+0000 or lone surrogates anywhere in path, query or body: a 400 naming where.
  installTextGuard(app);

  installSecurityHeaders(app, security);
  // Per-request hooks are callback-style: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // The line is built only when it is written (LOG_LEVEL info or lower, for this route).
  const writesLine = writesRequestLine(options.logger);
  app.addHook('onResponse', (request, reply, done) => {
    if (writesLine(request.log.level)) {
      request.log.info(
        { method: request.method, url: urlForLog(request.url), statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
        'request completed',
      );
    }
    done();
  });

  installErrorHandler(app);
  installUnknownRouteHandler(app);
  await registerCors(app, options.corsOrigins ?? []);
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
  if (options.operations?.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  instrumentHttp(app, options.metrics, options.operations?.metricsTokens);
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
  exitOnSignals(
    app.log,
    async () => {
      closeIdleConnectionsUntilClosed(app.server);
      await app.close();
    },
    graceMs,
  );
  return url;
}
