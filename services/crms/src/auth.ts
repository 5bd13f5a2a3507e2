import { accessTokenVerifier, HttpError, type AccessClaims } from '@shop/service-kit';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwksCache, type ExportedJWKSCache, type JWTVerifyGetKey } from 'jose';

export interface AthsKeySetOptions {
  athsBaseUrl: string;
  /** How long fetched keys are trusted before a refetch (default 10 min). */
  cacheMaxAgeMs?: number;
  /** Minimum time between two refetches triggered by an unknown `kid` (default 30 s). */
  cooldownMs?: number;
  timeoutMs?: number;
  /**
   * While ATHS cannot be reached, keys fetched less than this long ago still verify tokens whose `kid` they know
   * (default 1 h), so an ATHS restart does not turn every request into a 503 once the cache has expired.
   */
  maxStaleMs?: number;
}

function jwksUrl(athsBaseUrl: string): URL {
  return new URL(`${athsBaseUrl.replace(/\/+$/, '')}/.well-known/jwks.json`);
}

/**
 * ATHS's public keys over HTTP, cached (refetched on an unknown `kid`). When the key set cannot be fetched (ATHS
 * down, timing out or answering garbage) the request answers 503 rather than 401: the token may be perfectly good.
 */
function athsKeySet(options: AthsKeySetOptions): JWTVerifyGetKey {
  // jose records every successful fetch here (`uat` = when, `jwks` = what).
  const cache = {} as Partial<ExportedJWKSCache>;
  const remote = createRemoteJWKSet(jwksUrl(options.athsBaseUrl), {
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
    [jwksCache]: cache as ExportedJWKSCache,
  });
  const maxStaleMs = options.maxStaleMs ?? 60 * 60_000;
  const unavailable = () =>
    new HttpError(503, 'Authentication service unavailable', [
      { field: 'aths', message: 'The keys that verify access tokens cannot be fetched right now; try again shortly' },
    ]);
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      // ATHS unreachable or answering garbage: fall back to the last keys it published, for a while. A kid those
      // keys do not know stays a 503 (it may be a key ATHS rotated to while we could not see it).
      if (cache.jwks && cache.uat !== undefined && Date.now() - cache.uat < maxStaleMs) {
        try {
          return await createLocalJWKSet(cache.jwks)(header, token);
        } catch {
          throw unavailable();
        }
      }
      throw unavailable();
    }
  };
}

export function createAccessTokenVerifier(options: AthsKeySetOptions & { issuer: string; audience: string }): (token: string) => Promise<AccessClaims> {
  return accessTokenVerifier({ keys: athsKeySet(options), issuer: options.issuer, audience: options.audience });
}
