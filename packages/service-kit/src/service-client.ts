import type { Pool } from 'undici';
import { injectTraceHeaders } from './observability/tracing.ts';

export interface ServiceResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ServiceClientOptions {
  /** e.g. `http://localhost:5002`; HTTPS is used when the URL says https. A path prefix is kept. */
  baseUrl: string;
  /** Sent as `x-api-key`; never logged. */
  apiKey: string;
  /** Whole-request deadline (connect, headers and body). */
  timeoutMs?: number;
  /** Keep-alive connections kept open to the other service. */
  connections?: number;
}

/** Raised for a failure to get any answer (refused, reset, timed out); an HTTP error status is not an exception. */
export class ServiceUnavailableError extends Error {
  override name = 'ServiceUnavailableError';
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

/**
 * JSON over a keep-alive connection pool to another of our services, with the service API key and a deadline.
 * Both directions (ATHS → CRMS provisioning, CRMS → ATHS look-ups and status changes) go through this.
 */
export function createServiceClient(options: ServiceClientOptions) {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5_000;
  // undici loads at the first request rather than at start: npm start's cold start (docs/operations.md).
  let pool: Promise<Pool> | undefined;
  const poolOf = () =>
    (pool ??= import('undici').then(
      ({ Pool }) =>
        new Pool(base.origin, {
          connections: options.connections ?? 16,
          keepAliveTimeout: 30_000,
          connectTimeout: timeoutMs,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
    ));

  async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<ServiceResponse<T>> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-api-key': options.apiKey,
      };
      // The caller's span (e.g. an outbox delivery attempt) becomes the parent of the other service's request span.
      injectTraceHeaders(headers);
      const response = await (await poolOf()).request({
        method,
        path: `${prefix}${path}`,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text.length > 0 ? JSON.parse(text) : null;
      } catch {
        // Not JSON (a proxy's error page, say): keep the text for the error message.
      }
      return { status: response.statusCode, body: parsed as T };
    } catch (error) {
      const timedOut = signal.aborted || (error as { code?: string }).code?.includes('TIMEOUT') === true;
      const detail = timedOut ? `no answer within ${timeoutMs} ms` : (error as Error).message || String(error);
      throw new ServiceUnavailableError(`${method} ${base.origin}${prefix}${path}: ${detail}`, timedOut);
    }
  }

  return {
    baseUrl: `${base.origin}${prefix}`,
    request,
    close: async () => (pool ? (await pool).close() : undefined),
  };
}

export type ServiceClient = ReturnType<typeof createServiceClient>;

/**
 * A typed client of one of our services: `calls` are built on one pool's `request`, and the client has the pool's
 * `baseUrl` and `close`. The shape every service-to-service client shares, written once.
 */
export function defineServiceClient<Calls extends object>(
  options: ServiceClientOptions,
  calls: (request: ServiceClient['request']) => Calls,
): Calls & Pick<ServiceClient, 'baseUrl' | 'close'> {
  const client = createServiceClient(options);
  return { ...calls(client.request), baseUrl: client.baseUrl, close: client.close };
}
