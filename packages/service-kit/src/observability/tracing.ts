import {
  context,
  createContextKey,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanKind,
  type Tracer,
} from '@opentelemetry/api';
import { ConfigError } from '../config.ts';
import { messageForLog } from './log-redaction.ts';
import type { Logger } from 'pino';

/**
 * OpenTelemetry tracing, configured only by the standard OTEL_* variables and off unless an OTLP endpoint is set.
 * When off, none of the SDK's packages is loaded (they are imported dynamically) and every helper here returns at
 * its first line; `@opentelemetry/api` alone is loaded, whose calls are no-ops without an SDK. README "Tracing".
 */

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
type Protocol = (typeof PROTOCOLS)[number];

export interface TracingSettings {
  enabled: boolean;
  protocol: Protocol;
}

/** What the environment asks for: on when an endpoint is set and OTEL_SDK_DISABLED is not true. */
export function tracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  const enabled = Boolean(endpoint) && !disabled;
  // Checked only when on: a variable meant for another process does not stop a service that does not trace.
  if (enabled && !(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported (use ${PROTOCOLS.join(' or ')})`);
  }
  return { enabled, protocol: protocol as Protocol };
}

interface ServiceTracing {
  tracer: Tracer;
  shutdown: () => Promise<void>;
}

/** One tracer provider per service started in this process (`npm start` runs both in one), by service name. */
const services = new Map<string, ServiceTracing>();
/** The first service's: for spans started where no service's span is active. */
let active: ServiceTracing | undefined;
/** Which service's tracer a context belongs to: set on each request span's context (see startSpan). */
const TRACER = createContextKey('@shop/service-kit tracer');

/** Whether this process exports spans (startTracing succeeded). */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

/** A context whose spans are reported as `service`'s (for a service's request spans and its outbox attempts). */
export function withServiceTracer(parent: Context, service: string | undefined): Context {
  const tracer = service === undefined ? undefined : services.get(service)?.tracer;
  return tracer ? parent.setValue(TRACER, tracer) : parent;
}

/**
 * Starts the SDK for one service if the environment asks for it: a tracer provider with the service's resource
 * (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override), the sampler of OTEL_TRACES_SAMPLER and a batching
 * OTLP/HTTP exporter, whose failures are logged as warnings and never reach a request. The first one also sets the
 * process's W3C propagator and context manager.
 */
export async function startTracing(options: { service: string; version: string; logger: Logger; env?: NodeJS.ProcessEnv }): Promise<boolean> {
  const settings = tracingSettings(options.env);
  if (!settings.enabled) return false;
  if (services.has(options.service)) return true;
  const [{ NodeTracerProvider, BatchSpanProcessor }, resources, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    settings.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const log = options.logger.child({ component: 'tracing' });
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': options.service, 'service.version': options.version }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new exporterModule.OTLPTraceExporter())],
  });
  const tracing = { tracer: provider.getTracer('@shop/service-kit', options.version), shutdown: () => provider.shutdown() };
  services.set(options.service, tracing);
  if (!active) {
    diag.setLogger(
      {
        error: (message, ...args) => log.warn({ args }, message),
        warn: (message, ...args) => log.warn({ args }, message),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
    provider.register();
    active = tracing;
  }
  log.info({ protocol: settings.protocol }, 'tracing on: exporting spans over OTLP/HTTP');
  return true;
}

/** Exports what the service still has queued and stops its provider (graceful shutdown), within the export timeout. */
export async function stopTracing(service: string): Promise<void> {
  const tracing = services.get(service);
  services.delete(service);
  if (services.size === 0) active = undefined;
  await tracing?.shutdown().catch(() => undefined);
}

/**
 * pino mixin: the active span's ids on every log line written inside it, so a log line leads to its trace.
 * A new object each time: pino merges the line's fields into it.
 */
export function traceLogFields(): Record<string, string> {
  if (!active) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The active W3C trace context as headers (`traceparent`, `tracestate`), added to an outgoing call's headers. */
export function injectTraceHeaders(headers: Record<string, string>): void {
  if (active) propagation.inject(context.active(), headers);
}

/** The active trace context to store with an outbox row; undefined when tracing is off or no span is active. */
export function currentTraceContext(): { traceparent: string; tracestate: string | null } | undefined {
  if (!active) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate ?? null } : undefined;
}

/** A context whose parent is a stored or received trace context (`traceparent`, `tracestate`). */
export function contextFrom(carrier: { traceparent?: string | null; tracestate?: string | null }): Context {
  const headers: Record<string, string> = {};
  if (carrier.traceparent) headers.traceparent = carrier.traceparent;
  if (carrier.tracestate) headers.tracestate = carrier.tracestate;
  return propagation.extract(ROOT_CONTEXT, headers);
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; default: the active context. */
  parent?: Context;
}

/** Starts a span (undefined when tracing is off), for callers that end it themselves. */
export function startSpan(name: string, options: SpanOptions = {}): Span | undefined {
  if (!active) return undefined;
  const { parent = context.active(), ...spanOptions } = options;
  const tracer = (parent.getValue(TRACER) as Tracer | undefined) ?? active.tracer;
  return tracer.startSpan(name, spanOptions, parent);
}

/** Runs `fn` with `span` as the active span (or as is without one). */
export function runInSpan<T>(span: Span | undefined, fn: () => T, parent?: Context): T {
  if (!span) return fn();
  return context.with(trace.setSpan(parent ?? context.active(), span), fn);
}

/** Marks a span failed with the error's name and message (never a statement's parameters). */
export function recordSpanError(span: Span | undefined, error: unknown): void {
  if (!span) return;
  const name = error instanceof Error ? `${error.name}: ` : '';
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${name}${messageForLog(error)}` });
}

/**
 * A span around `fn` that never has children (a statement): not made active, which saves a context switch. Only
 * inside a traced operation: a statement outside one (an outbox worker's claim) would be a trace of its own.
 */
export async function withLeafSpan<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const span = active && trace.getSpan(options.parent ?? context.active()) ? startSpan(name, options) : undefined;
  if (!span) return fn();
  try {
    return await fn();
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Runs `fn` inside a new span that ends with it (failed if it throws); just `fn()` when tracing is off. */
export async function withSpan<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  if (!span) return fn();
  try {
    return await runInSpan(span, fn, options.parent);
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
