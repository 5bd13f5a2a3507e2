import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type { FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { App } from '../http/app.ts';
import { startSpan, withServiceTracer } from './tracing.ts';

/** Probes, scrapes and the API documentation are not traced: they would bury the requests that matter. */
const UNTRACED = /^\/(health|metrics|docs)(\/|$)/;

/**
 * One SERVER span per request, child of the caller's `traceparent`, through Fastify's own hooks (no module patching:
 * tsx and the esbuild bundle behave alike); the handler runs in its context. Installed only while tracing is on.
 */
export function installRequestSpans(app: App, service: string): void {
  const contexts = new WeakMap<FastifyRequest, Context>();

  app.addHook('onRoute', (route) => {
    if (UNTRACED.test(route.url)) return;
    const handler = route.handler as RouteHandlerMethod;
    // The body is read between onRequest and the handler, on the socket's events, which lose the context: the
    // handler gets it back here.
    const traced: RouteHandlerMethod = function tracedHandler(request, reply) {
      const spanContext = contexts.get(request);
      return spanContext ? context.with(spanContext, handler, this, request, reply) : handler.call(this, request, reply);
    };
    route.handler = traced;
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route === undefined || UNTRACED.test(route)) return done();
    const parent = withServiceTracer(propagation.extract(ROOT_CONTEXT, request.headers), service);
    const span = startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      parent,
      attributes: { 'http.request.method': request.method, 'http.route': route, 'http.request.id': request.id },
    });
    if (!span) return done();
    const spanContext = trace.setSpan(parent, span);
    contexts.set(request, spanContext);
    context.with(spanContext, done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const spanContext = contexts.get(request);
    if (!spanContext) return done();
    const span = trace.getSpan(spanContext)!;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    // The request's log line (the next onResponse hook) carries the span's ids.
    context.with(spanContext, done);
  });

  app.addHook('onRequestAbort', (request, done) => {
    const span = trace.getSpan(contexts.get(request) ?? ROOT_CONTEXT);
    contexts.delete(request);
    span?.setAttribute('http.request.aborted', true);
    span?.end();
    done();
  });
}
