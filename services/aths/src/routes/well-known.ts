import type { App } from '@shop/service-kit';
import { jwksSchema } from '../signing-keys/dto.ts';
import type { SigningKeyStore } from '../signing-keys/key-store.ts';

export function registerWellKnownRoutes(app: App, deps: { keys: Pick<SigningKeyStore, 'jwks'> }): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['well-known'],
        summary: 'Public keys that verify access tokens (JWKS, RFC 7517)',
        description: 'The current signing key and recently retired ones (until their tokens expired).',
        security: [],
        response: { 200: jwksSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      const { keys } = await deps.keys.jwks();
      return {
        keys: keys.map((key) => ({ kty: key.kty!, kid: key.kid!, alg: key.alg!, use: key.use ?? 'sig', crv: key.crv!, x: key.x! })),
      };
    },
  );
}
