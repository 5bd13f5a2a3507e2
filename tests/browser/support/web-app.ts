import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the shop's web app: one page, served from its own origin, that calls ATHS and CRMS with `fetch` the
 * way that app does (JSON bodies, a bearer header, and — like the real app — it keeps its FIRST refresh token and stores
 * only the new access token after a refresh). `refreshRotating` is a client that stores the rotated token instead.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>shop web app (test)</title></head>
<body><h1>shop</h1>
<script>
  const params = new URLSearchParams(location.search);
  const ATHS = params.get('aths');
  const CRMS = params.get('crms');
  const state = { accessToken: null, refreshToken: null };

  async function call(base, method, path, body, auth) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth) headers.authorization = 'Bearer ' + state.accessToken;
    const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : null,
      requestId: response.headers.get('x-request-id'),
      retryAfter: response.headers.get('retry-after'),
    };
  }
  function keepSession(result) {
    if (result.status === 200 || result.status === 201) {
      state.accessToken = result.body.data.accessToken;
      state.refreshToken = result.body.data.refreshToken;
    }
    return result;
  }

  window.shop = {
    state,
    register: async (user) => keepSession(await call(ATHS, 'POST', '/api/auth/register', user)),
    login: async (email, password) => keepSession(await call(ATHS, 'POST', '/api/auth/login', { email, password })),
    profile: () => call(ATHS, 'GET', '/api/user/profile', undefined, true),
    me: () => call(CRMS, 'GET', '/api/customers/me', undefined, true),
    async refreshKeepingFirstToken() {
      const result = await call(ATHS, 'POST', '/api/auth/refresh-token', { refreshToken: state.refreshToken });
      if (result.status === 200) state.accessToken = result.body.data.accessToken;
      return result;
    },
    refreshRotating: async () => keepSession(await call(ATHS, 'POST', '/api/auth/refresh-token', { refreshToken: state.refreshToken })),
    /** A raw fetch that reports whether the browser let the page read the answer at all. */
    async attempt(url, init) {
      try {
        const response = await fetch(url, init);
        return { read: true, status: response.status };
      } catch (error) {
        return { read: false, error: String(error) };
      }
    },
  };
</script></body></html>`;

/** Serves the page on a port of its own; its origin is `http://127.0.0.1:<port>`. */
export async function serveWebApp(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/favicon')) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
