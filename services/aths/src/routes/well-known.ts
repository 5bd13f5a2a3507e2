import { z } from 'zod';
import type { App } from '@shop/service-kit';
import type { AthsContext } from '../context.ts';

export function registerWellKnownRoutes(app: App, ctx: AthsContext): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['well-known'],
        summary: 'Public keys that verify access tokens (JWKS, RFC 7517)',
        description: 'The current signing key and recently retired ones (until their tokens expired).',
        security: [],
        response: {
          200: z.object({
            keys: z.array(z.object({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string(), crv: z.string(), x: z.string() })),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      const { keys } = await ctx.keys.jwks();
      return {
        keys: keys.map((key) => ({ kty: key.kty!, kid: key.kid!, alg: key.alg!, use: key.use ?? 'sig', crv: key.crv!, x: key.x! })),
      };
    },
  );
}
