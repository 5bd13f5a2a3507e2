import { backoffDelay, type BackoffPolicy } from '../backoff.ts';
import { errorChain, type ErrorLink } from './sql-errors.ts';

/**
 * Telling "the database is not there right now" (retry later: 503) from everything else (a bug: 500).
 * node-postgres reports connection trouble three ways: socket errors (`code` ECONNREFUSED…), server errors
 * (SQLSTATE class 08, 57P0x), and its own plain Errors, known only by their message.
 */
const UNAVAILABLE_CODES = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED'],
  // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, query_canceled (statement_timeout)
  ...['57P01', '57P02', '57P03', '53300', '57014'],
]);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated', // …unexpectedly, …due to connection timeout
  'timeout exceeded when trying to connect', // pool acquire timeout (connectionTimeoutMillis)
  'not queryable', // a client whose connection already failed, or was closed
  'Query read timeout',
];

/** Failures after which the statement certainly did not commit: it never reached the server, or the server rolled it back. */
const NOT_COMMITTED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P03', '53300', '57014']);
const NOT_COMMITTED_MESSAGES = ['timeout exceeded when trying to connect', 'due to connection timeout'];

function anyLink(error: unknown, test: (code: string | undefined, message: string) => boolean): boolean {
  for (const { code, message } of errorChain(error)) {
    if (test(typeof code === 'string' ? code : undefined, typeof message === 'string' ? message : '')) return true;
  }
  return false;
}

/** Whether an error (also wrapped by drizzle) means the database is unreachable, restarting or timed out. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return anyLink(
    error,
    (code, message) =>
      (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) ||
      UNAVAILABLE_MESSAGES.some((text) => message.includes(text)),
  );
}

/**
 * Whether a write that failed this way may still have committed: the connection was lost after the statement was
 * sent (its COMMIT may have been the last thing the server did before going down).
 */
export function mayHaveCommitted(error: unknown): boolean {
  if (!isDatabaseUnavailable(error)) return false;
  return !anyLink(
    error,
    (code, message) => (code !== undefined && NOT_COMMITTED_CODES.has(code)) || NOT_COMMITTED_MESSAGES.some((text) => message.includes(text)),
  );
}

/** The driver's own error at the bottom of a (drizzle-wrapped) chain, for logs: drizzle's message carries the parameters. */
export function rootCause(error: unknown): { code?: string; message: string } {
  let current: unknown = error;
  for (const link of errorChain(error, 7)) current = link;
  const { code, message } = (current ?? {}) as ErrorLink;
  return { ...(typeof code === 'string' ? { code } : {}), message: typeof message === 'string' ? message : String(current) };
}

/** Log fields for a failure: just the driver's code and message when the database is unavailable (expected, and
 * drizzle's wrapper would add the statement and its parameters), the whole error otherwise. */
export function errorLogFields(error: unknown): Record<string, unknown> {
  return isDatabaseUnavailable(error) ? { database: rootCause(error) } : { err: error };
}

/** Reconnection schedule of the start-up loop and the LISTEN connection: 250 ms doubling to 5 s, jittered. */
export const DATABASE_RETRY: BackoffPolicy = { baseMs: 250, maxMs: 5_000, jitter: 0.5 };

/** Waits `ms`, or less when the signal aborts (then rejects with the signal's reason: an AbortError unless given). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * Runs `work` until it succeeds, retrying (DATABASE_RETRY backoff) while it fails with the database unavailable,
 * for at most `timeoutMs` (or until `signal` aborts); then, or on any other error, rethrows the last error. For
 * answering a question the database must answer (did this write commit?) across a short outage.
 */
export async function retryWhileUnavailable<T>(work: () => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let failures = 1; ; failures++) {
    try {
      return await work();
    } catch (error) {
      const delay = backoffDelay(failures, DATABASE_RETRY);
      if (!isDatabaseUnavailable(error) || Date.now() + delay > deadline || signal?.aborted) throw error;
      await sleep(delay, signal).catch(() => {
        throw error;
      });
    }
  }
}

/** An error's message with every credential of `url` removed (for logs: a connection string carries the password). */
export function redactUrl(message: string, url: string | undefined): string {
  if (!url) return message;
  let text = message.split(url).join('postgres://…');
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) text = text.split(password).join('***');
  } catch {
    // not a URL: nothing more to hide
  }
  return text;
}
