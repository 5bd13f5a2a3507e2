import cors from '@fastify/cors';
import type { App } from './app.ts';
import { ConfigError } from '../config.ts';

/** The shop's web app (React dev server) and the mobile app's web build (Expo), as they run in development. */
export const DEVELOPMENT_CORS_ORIGINS = ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://localhost:19006'];

/** What a browser may send: never the service-key headers (internal routes are not for browsers). */
const ALLOWED_HEADERS = ['Content-Type', 'Authorization', 'x-request-id'];
const EXPOSED_HEADERS = ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Seconds a browser may cache a preflight (Chromium caps it at 2 h). */
const PREFLIGHT_MAX_AGE = 600;

/**
 * `CORS_ORIGINS` → the exact origins allowed. Unset: the development defaults, none in production. Each entry must be
 * an origin exactly as a browser sends it (`scheme://host[:port]`, no path, no trailing slash). `*` is refused:
 * responses allow credentials, which browsers never combine with a wildcard.
 */
export function corsOrigins(raw: string | undefined, nodeEnv: 'development' | 'production' | 'test'): string[] {
  if (raw === undefined) return nodeEnv === 'production' ? [] : [...DEVELOPMENT_CORS_ORIGINS];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const problems: string[] = [];
  for (const entry of entries) {
    if (entry === '*') {
      problems.push('"*" is not allowed (responses allow credentials): list the exact origins');
      continue;
    }
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
    } catch {
      origin = undefined;
    }
    if (origin !== entry) {
      problems.push(`"${entry}" is not an origin: write scheme://host[:port] with no path or trailing slash${origin ? ` (${origin})` : ''}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`CORS_ORIGINS: ${problems.join('; ')}`);
  return [...new Set(entries)];
}

/**
 * The CORS headers of an ordinary (non-preflight) answer to `origin`, as the plugin sets them; for the few answers
 * Fastify's router gives before any hook runs (a malformed URL), which the plugin never sees.
 */
export function corsHeadersFor(origins: readonly string[]): (origin: string | undefined) => Record<string, string> | undefined {
  const allowed = new Set(origins);
  const headers = {
    'access-control-allow-origin': '',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
    vary: 'Origin',
  };
  return (origin) => (origin !== undefined && allowed.has(origin) ? { ...headers, 'access-control-allow-origin': origin } : undefined);
}

/**
 * CORS for the listed origins on every route, errors included (the headers are set in an onRequest hook, before any
 * route hook can answer). A request from any other origin gets no CORS headers and is otherwise served as before; its
 * preflight falls through to the 404/405 handler, so the browser blocks the call.
 */
export async function registerCors(app: App, origins: readonly string[]): Promise<void> {
  const allowed = new Set(origins);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: true,
    maxAge: PREFLIGHT_MAX_AGE,
    // A stray OPTIONS without Access-Control-Request-Method would get a text/plain 400 outside the envelope.
    strictPreflight: false,
  });
}
