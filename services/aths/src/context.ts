import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { AccessClaims, apiKeyGuard, App, Database, DatabaseHandle, Logger } from '@shop/service-kit';
import type { AthsConfig } from './config.ts';
import type { RateLimits } from './http/rate-limits.ts';
import type { Mailer } from './mail/mailer.ts';
import type { AthsMetrics } from './metrics.ts';
import type { SessionService } from './sessions/service.ts';
import type { SigningKeyStore } from './signing-keys/key-store.ts';
import type { UserLifecycleHooks } from './users/lifecycle-hooks.ts';
import type { PasswordHasher } from './users/passwords.ts';
import type { UserService } from './users/service.ts';

export type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Everything a route module (ours or another team's extension) needs. */
export interface AthsContext {
  config: AthsConfig;
  database: DatabaseHandle;
  db: Database;
  logger: Logger;
  /** Prometheus registry of this instance (served at /metrics). */
  metrics: Registry;
  athsMetrics: AthsMetrics;
  keys: SigningKeyStore;
  sessions: SessionService;
  users: UserService;
  passwords: PasswordHasher;
  mailer: Mailer;
  hooks: UserLifecycleHooks;
  redis: Redis | null;
  rateLimits: RateLimits;
  /** The kit's accessTokenVerifier over this instance's own key set. */
  verifyAccessToken: (token: string) => Promise<AccessClaims>;
  guards: {
    /** Any signed-in, active user. Guards run as onRequest hooks: authentication before body validation. */
    user: PreHandler;
    /** Active Administrators (role re-checked against the database). */
    administrator: PreHandler;
    /** Service API key on `x-service-api-key` or `x-api-key` (the kit's callback-style guard). */
    internal: ReturnType<typeof apiKeyGuard>;
  };
}

/** The Fastify app buildApp returns, with its context for tests, the CLI and extensions. */
export type AthsApp = App & { aths: AthsContext };
