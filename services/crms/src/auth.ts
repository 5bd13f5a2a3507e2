import { accessTokenVerifier, HttpError, type AccessClaims } from '@shop/service-kit';
import { createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';

export interface AthsKeySetOptions {
  athsBaseUrl: string;
  /** How long fetched keys are trusted before a refetch (default 10 min). */
  cacheMaxAgeMs?: number;
  /** Minimum time between two refetches triggered by an unknown `kid` (default 30 s). */
  cooldownMs?: number;
  timeoutMs?: number;
}

export function jwksUrl(athsBaseUrl: string): URL {
  return new URL(`${athsBaseUrl.replace(/\/+$/, '')}/.well-known/jwks.json`);
}

/**
 * ATHS's public keys over HTTP, cached (refetched on an unknown `kid`). When the key set cannot be fetched (ATHS
 * down, timing out or answering garbage) the request answers 503 rather than 401: the token may be perfectly good.
 */
export function athsKeySet(options: AthsKeySetOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(jwksUrl(options.athsBaseUrl), {
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      throw new HttpError(503, 'Authentication service unavailable', [
        { field: 'aths', message: 'The keys that verify access tokens cannot be fetched right now; try again shortly' },
      ]);
    }
  };
}

export function createAccessTokenVerifier(options: AthsKeySetOptions & { issuer: string; audience: string }): (token: string) => Promise<AccessClaims> {
  return accessTokenVerifier({ keys: athsKeySet(options), issuer: options.issuer, audience: options.audience });
}
