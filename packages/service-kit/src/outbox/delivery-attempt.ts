import { errorLogFields, retryWhileUnavailable } from '../db/availability.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../observability/logger.ts';
import { traceAttempt } from './attempt-span.ts';
import { backoffDelay, type BackoffPolicy } from '../backoff.ts';
import { recordOutcome, type ClaimedRow, type ClaimHolder } from './claims.ts';
import type { OutboxWorkerMetrics } from './metrics.ts';
import { failureFromError, type DeliveryOutcome } from './outcome.ts';

/** One message handed to a handler. */
export interface OutboxMessage {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  /** 1 for the first attempt. */
  attempt: number;
  createdAt: Date;
}

/** Delivers one message; throwing counts as a retryable failure. */
export type OutboxHandler = (message: OutboxMessage) => Promise<DeliveryOutcome>;

/** What a delivery attempt needs from its worker (fixed for the worker's life). */
export interface DeliveryAttemptContext {
  db: Database;
  holder: ClaimHolder;
  handlers: Record<string, OutboxHandler>;
  backoff: BackoffPolicy;
  random: () => number;
  /** Name of the key in log lines. */
  keyLabel: string;
  log: Logger;
  metrics: OutboxWorkerMetrics | undefined;
}

export interface DeliveryAttemptResult {
  outcome: DeliveryOutcome;
  /** Set when the outcome is `retry`: the backoff before the next attempt. */
  retryInMs: number | undefined;
}

/**
 * One delivery attempt of a claimed message: calls its topic's handler, counts and times the call, records the
 * outcome under the lease's fence and writes the attempt's log line, all inside the attempt's span while tracing is
 * on. `stopping` cuts short the wait for the database.
 */
export function attemptDelivery(row: ClaimedRow, context: DeliveryAttemptContext, stopping: AbortSignal): Promise<DeliveryAttemptResult> {
  // The span is the worker's service's (its logger's `service`: `npm start` runs both services in one process).
  const service = context.log.bindings().service as string | undefined;
  return traceAttempt(row, context.holder.table, service, () => deliverOnce(row, context, stopping));
}

async function deliverOnce(row: ClaimedRow, context: DeliveryAttemptContext, stopping: AbortSignal): Promise<DeliveryAttemptResult> {
  const { holder, metrics, log, keyLabel } = context;
  const claimedAt = performance.now();
  const attempt = Number(row.attempts);
  const message: OutboxMessage = {
    id: row.id,
    topic: row.topic,
    key: row.key,
    payload: row.payload,
    attempt,
    createdAt: new Date(row.created_at),
  };
  const handler = context.handlers[row.topic];
  const started = performance.now();
  let outcome: DeliveryOutcome;
  if (!handler) {
    outcome = { outcome: 'dead', error: `No handler for topic "${row.topic}"` };
  } else {
    try {
      outcome = await handler(message);
    } catch (error) {
      outcome = failureFromError(error);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  metrics?.attempts.inc({ topic: row.topic, outcome: outcome.outcome });
  metrics?.latency.observe({ topic: row.topic, outcome: outcome.outcome }, seconds);

  const retryInMs = outcome.outcome === 'retry' ? backoffDelay(attempt, context.backoff, context.random) : undefined;
  let recorded = false;
  try {
    // The database may be restarting: keep trying while the lease lasts (the fence keeps a late write safe), so the
    // outcome is not lost and the message not delivered again after its lease.
    const leaseLeft = holder.leaseMs - (performance.now() - claimedAt);
    recorded = await retryWhileUnavailable(() => recordOutcome(context.db, holder, message, outcome, retryInMs), leaseLeft, stopping);
  } catch (error) {
    log.warn({ ...errorLogFields(error), [keyLabel]: row.key }, 'outbox: recording an outcome failed; the message is retried after its lease');
  }

  const line = {
    operation: row.topic,
    [keyLabel]: row.key,
    ...outcome.logFields,
    messageId: row.id,
    attempt,
    duration: Math.round(seconds * 10_000) / 10,
    outcome: outcome.outcome,
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    ...(outcome.outcome !== 'delivered' ? { error: outcome.error } : {}),
    ...(retryInMs !== undefined ? { retryInMs } : {}),
    ...(recorded ? {} : { leaseLost: true }),
  };
  if (outcome.outcome === 'delivered') log.info(line, 'outbox delivery attempt');
  else if (outcome.outcome === 'retry') log.warn(line, 'outbox delivery attempt');
  else {
    metrics?.dead.inc({ topic: row.topic });
    log.error(line, 'outbox delivery attempt: dead-lettered');
  }
  return { outcome, retryInMs };
}
