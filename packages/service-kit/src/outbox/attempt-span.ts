import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { contextFrom, runInSpan, startSpan, tracingEnabled, withServiceTracer } from '../observability/tracing.ts';
import type { ClaimedRow } from './claims.ts';
import type { DeliveryOutcome } from './outcome.ts';

/**
 * Runs one delivery attempt inside its span (README "Tracing"): a child of the span that wrote the row (its stored
 * `traceparent`), so an attempt hours later still lands in the registration's trace, with a link to that span too.
 * The handler's call to the target carries this span as its `traceparent`. Just `run()` while tracing is off.
 */
export async function traceAttempt<R extends { outcome: DeliveryOutcome; retryInMs: number | undefined }>(
  row: ClaimedRow,
  table: string,
  service: string | undefined,
  run: () => Promise<R>,
): Promise<R> {
  if (!tracingEnabled()) return run();
  const parent = withServiceTracer(contextFrom(row), service);
  const writer = trace.getSpanContext(parent);
  const span = startSpan(`outbox deliver ${row.topic}`, {
    kind: SpanKind.CLIENT,
    parent,
    links: writer ? [{ context: writer }] : [],
    attributes: { 'outbox.table': table, 'outbox.topic': row.topic, 'outbox.message_id': row.id, 'outbox.attempt': Number(row.attempts) },
  })!;
  try {
    const result = await runInSpan(span, run, parent);
    const { outcome, retryInMs } = result;
    span.setAttribute('outbox.outcome', outcome.outcome);
    if (outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
    if (retryInMs !== undefined) span.setAttribute('outbox.next_attempt_at', new Date(Date.now() + retryInMs).toISOString());
    if (outcome.outcome !== 'delivered') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    return result;
  } finally {
    span.end();
  }
}
