import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { HttpError } from './envelope.ts';

// One-shot hashing: no Hash object per request.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** The seed's exact 401 body for service-to-service calls. */
export const invalidApiKey = () =>
  new HttpError(401, 'Invalid or missing service API key', [
    { field: 'authentication', message: 'Service API key authentication required' },
  ]);

/**
 * onRequest hook accepting any of several keys (so a key can be rotated without downtime), read from the first of
 * `headers` present. Keys are compared as SHA-256 digests in constant time, and every key is always compared.
 * Callback-style, like the kit's other per-request hooks: no promise per request.
 */
export function apiKeyGuard(keys: readonly string[], headers: readonly string[]) {
  const accepted = keys.map(digest);
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
    const candidate = digest(presented);
    let matched = false;
    for (const key of accepted) matched = timingSafeEqual(key, candidate) || matched;
    done(matched ? undefined : invalidApiKey());
  };
}
