import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyServerFactory } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { App } from './http/app.ts';
import type { Registry } from 'prom-client';
import { errorBody, HttpError } from './http/envelope.ts';
import { corsHeadersFor, registerCors } from './http/cors.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { closeIdleConnectionsUntilClosed, exitOnSignals } from './http/shutdown.ts';
import { requestIdFrom } from './http/request-id.ts';
import { installUnknownRouteHandler } from './http/unknown-route.ts';
import { registerHealthRoutes, type ReadinessCheck } from './observability/health.ts';
import { urlForLog, type Logger } from './observability/logger.ts';
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
  /** Serve on a server the caller made (startService's, listening before the app exists) instead of listen(). */
  serverFactory?: FastifyServerFactory;
  /** Exact browser origins allowed by CORS (`corsOrigins()` reads them from CORS_ORIGINS); none: no CORS headers. */
  corsOrigins?: readonly string[];
}

/**
 * A Fastify app with everything both services share: zod validation and OpenAPI from the same schemas, the
 * contract's envelope for every error, request ids, security headers, health, metrics and /docs.
 * The caller registers its routes on the result, then calls `ready()` or `listen()`.
 */
export async function buildServer(options: ServerOptions): Promise<App> {
  const corsHeaders = corsHeadersFor(options.corsOrigins ?? []);
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    genReqId: requestIdFrom,
    // One line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: options.trustProxy ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
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

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('auth', null);
  // JSON only: anything else is a 415 rather than a string the schema then rejects.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (same limits, same errors, same prototype-poisoning refusal), which also notes whether
  // the raw text can hold U+0000 at all: JSON can only carry it as the escape \u0000, so a body without that text
  // needs no walk in the NUL check below.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('nulFreeBody', false);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    (request as unknown as NulFlags).nulFreeBody = !(body as string).includes('\\u0000');
    parseJson(request, body as string, done);
  });

  // Per-request hooks are callback-style: no promise per request on the hot path. The request id and helmet's
  // security headers go into Fastify's own reply headers, not onto the raw response: once any header is on the raw
  // response, Node passes every header Fastify writes through setHeader again.
  const security = securityHeaders().map(([name, value]) => [name.toLowerCase(), value] as const);
  app.addHook('onRequest', (request, reply, done) => {
    for (const [name, value] of security) reply.header(name, value);
    reply.header('x-request-id', request.id);
    done();
  });
  // PostgreSQL text cannot hold U+0000: refuse it at the door (400) rather than fail in the database (500).
  // Walks only what can hold it: path and query when the raw URL has %00 (or a NUL), the body unless the JSON parser
  // saw that its raw text has no \u0000 escape.
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      const url = request.url;
      const urlMayHoldNul = url.includes('%00') || url.includes('\u0000');
      if (urlMayHoldNul) {
        refuseNul('path', request.params);
        refuseNul('query', request.query);
      }
      if (request.body !== undefined && !(request as unknown as NulFlags).nulFreeBody) refuseNul('body', request.body);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      { method: request.method, url: urlForLog(request.url), statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
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
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  instrumentHttp(app, options.metrics);
  registerHealthRoutes(app, { service: options.service, version: options.version, checks: options.readiness });
  return app;
}

interface NulFlags {
  nulFreeBody: boolean;
}

function refuseNul(location: 'path' | 'query' | 'body', value: unknown): void {
  const field = nulCharacterPath(value);
  if (field !== undefined) {
    const name = [location, ...field].join(' -> ');
    throw new HttpError(400, 'Validation failed', [{ field: name, message: 'must not contain the NUL character (\\u0000)' }]);
  }
}

// helmet itself, the very copy @fastify/helmet runs.
type HelmetMiddleware = (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
const helmet = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'))('helmet') as (options?: object) => HelmetMiddleware;

/**
 * Helmet's default headers (what `@fastify/helmet` with `global: true` and no options sets): they depend on nothing
 * in the request, so they are computed once here instead of rebuilding helmet's middleware on every request, and set
 * in an onRequest hook as helmet does (a route's own `reply.header` still wins).
 */
export function securityHeaders(): ReadonlyArray<readonly [string, string]> {
  const headers: Array<readonly [string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  let failure: unknown;
  helmet()({}, recorder, (error) => {
    failure = error;
  });
  if (failure) throw failure;
  return headers;
}

/** Where the first string (or key) holding U+0000 is in a parsed value, or undefined; walks at most 100,000 nodes. */
export function nulCharacterPath(value: unknown): string[] | undefined {
  interface Node {
    value: unknown;
    key: string | undefined;
    parent: Node | undefined;
  }
  const pathOf = (node: Node | undefined, last?: string) => {
    const path: string[] = last === undefined ? [] : [last];
    for (let at = node; at && at.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const stack: Node[] = [{ value, key: undefined, parent: undefined }];
  for (let visited = 0; stack.length > 0 && visited < 100_000; visited++) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (node.value.includes('\u0000')) return pathOf(node);
    } else if (node.value !== null && typeof node.value === 'object') {
      for (const [key, child] of Object.entries(node.value)) {
        if (key.includes('\u0000')) return pathOf(node, key);
        stack.push({ value: child, key, parent: node });
      }
    }
  }
  return undefined;
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
