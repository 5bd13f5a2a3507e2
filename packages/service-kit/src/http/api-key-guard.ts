import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { HttpError } from './envelope.ts';

// One-shot hashing: no Hash object per request.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** The exact 401 body of the integration guide (and API.md) for service-to-service calls. */
export const invalidApiKey = () =>
  new HttpError(401, 'Invalid or missing service API key', [
    { field: 'authentication', message: 'Service API key authentication required' },
  ]);

/**
 * onRequest hook accepting any of several keys (so a key can be rotated without downtime), read from the first of
 * `headers` present, compared by `keyMatcher`.
 * Callback-style, like the kit's other per-request hooks: no promise per request.
 */
/** The OpenAPI security requirement of routes behind apiKeyGuard (the `apiKey` scheme buildServer declares). */
export const API_KEY_SECURITY = [{ apiKey: [] }];

export function apiKeyGuard(keys: readonly string[], headers: readonly string[]) {
  const matches = keyMatcher(keys);
  return function checkApiKey(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    let presented: string | undefined;
    for (const header of headers) {
      const value = request.headers[header];
      if (typeof value === 'string' && value.length > 0) {
        presented = value;
        break;
      }
    }
    if (presented === undefined) return done(invalidApiKey());
    done(matches(presented) ? undefined : invalidApiKey());
  };
}

/**
 * Whether a presented secret is one of `keys`: compared as SHA-256 digests in constant time, every key always
 * compared, so neither the key's length nor which key matched shows in the timing.
 */
export function keyMatcher(keys: readonly string[]): (presented: string) => boolean {
  const accepted = keys.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let matched = false;
    for (const key of accepted) matched = timingSafeEqual(key, candidate) || matched;
    return matched;
  };
}
