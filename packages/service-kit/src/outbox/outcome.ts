import { ServiceUnavailableError, type ServiceResponse } from '../service-client.ts';

/** What a handler reports for one delivery attempt. */
export type DeliveryOutcome =
  | {
      outcome: 'delivered';
      status?: number;
      /** Stored on the row (e.g. `{customerId}`) and readable with the summary. */
      result?: unknown;
      /** Extra fields for the attempt's log line (e.g. `customerId`); never secrets. */
      logFields?: Record<string, unknown>;
    }
  | { outcome: 'retry'; status?: number; error: string; logFields?: Record<string, unknown> }
  | { outcome: 'dead'; status?: number; error: string; logFields?: Record<string, unknown> };

const MAX_ERROR_LENGTH = 1_000;

/** 408, 429 and 5xx are worth retrying; any other 4xx will fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function describeBody(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

/** An HTTP answer that is not a 2xx, as an outcome: retry (408/429/5xx) or dead-letter (other 4xx). */
export function failureFromResponse(response: ServiceResponse): DeliveryOutcome {
  const error = `HTTP ${response.status}: ${describeBody(response.body)}`;
  return isRetryableStatus(response.status)
    ? { outcome: 'retry', status: response.status, error }
    : { outcome: 'dead', status: response.status, error };
}

/** A thrown error (no answer at all: refused, reset, timed out) is always retryable. */
export function failureFromError(error: unknown): DeliveryOutcome {
  if (error instanceof ServiceUnavailableError) return { outcome: 'retry', error: error.message };
  return { outcome: 'retry', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 300;
}
