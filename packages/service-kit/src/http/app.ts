import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, onRequestHookHandler, RawServerDefault, RouteOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

/** The Fastify instance both services build on: zod validates and documents every route. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** In an onRoute hook: `hook` runs first among the route's own onRequest hooks (after the app's). */
export function prependOnRequest(route: RouteOptions, hook: onRequestHookHandler): void {
  const own = route.onRequest ?? [];
  route.onRequest = [hook, ...(Array.isArray(own) ? own : [own])] as RouteOptions['onRequest'];
}
