import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type { onRequestHookHandler, RouteHandlerMethod } from 'fastify';
import { prependOnRequest, type App } from './app.ts';
import { writesRequestLine, type Logger } from '../observability/logger.ts';
import { startSpan, withServiceTracer } from '../observability/tracing.ts';

/** Probes, scrapes and the API documentation are not traced: they would bury the requests that matter. */
const UNTRACED = /^\/(health|metrics|docs)(\/|$)/;

declare module 'fastify' {
  interface FastifyRequest {
    /** The request span's context while tracing is on (request-spans.ts). */
    traceContext: Context | null;
  }
}

/**
 * One SERVER span per request of a traced route, child of the caller's `traceparent`, through Fastify's own hooks
 * (no module patching: tsx and the esbuild bundle behave alike); the handler runs in its context. The span starts in
 * the route's own first onRequest hook, made once per route (no lookup of the route per request), after the kit's
 * header hooks. Installed only while tracing is on.
 */
export function installRequestSpans(app: App, service: string, logger: Logger): void {
  app.decorateRequest('traceContext', null);
  const writesLine = writesRequestLine(logger);

  app.addHook('onRoute', (route) => {
    if (UNTRACED.test(route.url)) return;
    const start: onRequestHookHandler = (request, _reply, done) => {
      const parent = withServiceTracer(propagation.extract(ROOT_CONTEXT, request.headers), service);
      const span = startSpan(`${request.method} ${route.url}`, {
        kind: SpanKind.SERVER,
        parent,
        attributes: { 'http.request.method': request.method, 'http.route': route.url, 'http.request.id': request.id },
      });
      if (span) request.traceContext = trace.setSpan(parent, span);
      done();
    };
    // The body is read between onRequest and the handler, on the socket's events, which lose the context: the
    // handler gets it back here.
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function tracedHandler(request, reply) {
      const spanContext = request.traceContext;
      return spanContext ? context.with(spanContext, handler, this, request, reply) : handler.call(this, request, reply);
    };
    prependOnRequest(route, start);
  });

  // Global, and added before the kit's other hooks: the span ends before the request's log line is written.
  app.addHook('onResponse', (request, reply, done) => {
    const spanContext = request.traceContext;
    if (!spanContext) return done();
    const span = trace.getSpan(spanContext)!;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    // The log line (the kit's next onResponse hook) carries the span's ids, when it is written at all.
    if (writesLine(request.log.level)) context.with(spanContext, done);
    else done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    const span = request.traceContext && trace.getSpan(request.traceContext);
    request.traceContext = null;
    span?.setAttribute('http.request.aborted', true);
    span?.end();
    done();
  });
}
