/** A JSON client on a keep-alive undici pool to one origin: the tests' and the load generators' way to call a service. */
import { Pool, type Dispatcher } from 'undici';

export interface HttpTarget {
  pool: Pool;
  /** JSON request; resolves with status and parsed body (undefined if not JSON); never throws for HTTP errors. */
  json<T = unknown>(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Record<string, string | string[] | undefined> }>;
  close(): Promise<void>;
}

/** A keep-alive undici pool to one origin, sized for the generator's concurrency. */
export function httpTarget(origin: string, connections = 64, timeoutMs = 30_000): HttpTarget {
  const pool = new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  });
  return {
    pool,
    async json(method, path, body, headers = {}) {
      const response = await pool.request({
        method,
        path,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.body.text();
      let parsed: unknown;
      try {
        parsed = text.length ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.statusCode, body: parsed as never, headers: response.headers };
    },
    close: () => pool.close(),
  };
}
