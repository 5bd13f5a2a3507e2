import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './envelope.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The seed's exact 401 body for service-to-service calls. */
export const invalidApiKey = () =>
  new HttpError(401, 'Invalid or missing service API key', [
    { field: 'authentication', message: 'Service API key authentication required' },
  ]);

/**
 * preHandler accepting any of several keys (so a key can be rotated without downtime), read from the first of
 * `headers` present. Keys are compared as SHA-256 digests in constant time, and every key is always compared.
 */
export function apiKeyGuard(keys: readonly string[], headers: readonly string[]) {
  const accepted = keys.map(digest);
  return async function checkApiKey(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    let presented: string | undefined;
    for (const header of headers) {
      const value = request.headers[header];
      if (typeof value === 'string' && value.length > 0) {
        presented = value;
        break;
      }
    }
    if (presented === undefined) throw invalidApiKey();
    const candidate = digest(presented);
    let matched = false;
    for (const key of accepted) matched = timingSafeEqual(key, candidate) || matched;
    if (!matched) throw invalidApiKey();
  };
}
