import { readFileSync } from 'node:fs';
import {
  buildServer,
  createLogger,
  createMetricsRegistry,
  operationsAccess,
  type AccessClaims,
  type App,
  type DatabaseHandle,
  type Logger,
} from '@shop/service-kit';
import type { FastifyServerFactory } from 'fastify';
import { Counter } from 'prom-client';
import { createAdminAccountCheck } from './admin-account-check.ts';
import { createAthsClient } from './aths-client.ts';
import { createAccessTokenVerifier } from './auth.ts';
import type { CrmsConfig } from './config.ts';
import { noCustomerStatusHooks, type CustomerStatusHooks } from './customers/hooks.ts';
import { createCustomersService } from './customers/service.ts';
import { openCrmsDatabase } from './database.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerInternalRoutes } from './routes/internal.ts';
import { registerMeRoutes } from './routes/me.ts';
import { createUserStatusSync, type UserStatusSync } from './user-status-sync/index.ts';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface CrmsDeps {
  /**
   * Cross-service hook for administrator status changes. Default: the status-sync outbox's hooks (CRMS → ATHS
   * propagation), or noCustomerStatusHooks when `userStatusSync` is false.
   */
  customerStatusHooks?: CustomerStatusHooks;
  /** An already-open, migrated database (e.g. shared by tests). The caller owns it: the app does not close it. */
  database?: DatabaseHandle;
  logger?: Logger;
  /** Replaces JWKS verification (tests of other services may inject one). */
  verifyAccessToken?: (token: string) => Promise<AccessClaims>;
  /** CRMS → ATHS status propagation (outbox worker); `false` leaves it out (then no status hooks by default). */
  userStatusSync?: Parameters<typeof createUserStatusSync>[1] | false;
  /** JWKS cache tuning (tests). */
  jwks?: { cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number; maxStaleMs?: number };
  /** Serve on this server instead of listen() (the kit's startService). */
  serverFactory?: FastifyServerFactory;
}

/**
 * The CRMS Fastify app, routes registered and ready to `listen()` or `inject()`. Opens (and migrates) the database
 * from `config.DATABASE_URL` unless `deps.database` is given; closing the app closes what it opened.
 */
export async function buildApp(config: CrmsConfig, deps: CrmsDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger({ service: 'crms', level: config.LOG_LEVEL });
  const database = deps.database ?? (await openCrmsDatabase(config, logger));
  const ownsDatabase = deps.database === undefined;
  const aths = createAthsClient({ baseUrl: config.ATHS_BASE_URL, apiKey: config.ATHS_SERVICE_API_KEY, logger });
  let statusSync: UserStatusSync | null = null;
  try {
    const metrics = createMetricsRegistry('crms');
    statusSync = deps.userStatusSync === false ? null : createUserStatusSync({ config, database, logger, metrics }, deps.userStatusSync);
    const app = await buildServer({
      service: 'crms',
      version: VERSION,
      description: 'Customer Management Service: customer records provisioned from ATHS, statistics and administration',
      logger,
      metrics,
      corsOrigins: config.CORS_ORIGINS,
      operations: operationsAccess(config),
      serverFactory: deps.serverFactory,
      readiness: { database: () => database.ping() },
    });
    const service = createCustomersService({
      db: database.db,
      hooks: deps.customerStatusHooks ?? statusSync?.hooks ?? noCustomerStatusHooks,
      aths,
      logger,
      metrics: {
        creates: new Counter({
          name: 'crms_customer_creates_total',
          help: 'Internal creates (and repairs) by outcome: created or existing',
          labelNames: ['outcome'],
          registers: [metrics],
        }),
        repairs: new Counter({
          name: 'crms_customer_repairs_total',
          help: 'Repair-on-read attempts (customer record created from ATHS on /me) by outcome',
          labelNames: ['outcome'],
          registers: [metrics],
        }),
      },
    });
    const verify =
      deps.verifyAccessToken ??
      createAccessTokenVerifier({
        athsBaseUrl: config.ATHS_BASE_URL,
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        ...deps.jwks,
      });

    registerInternalRoutes(app, { service, apiKeys: config.SERVICE_API_KEYS });
    registerMeRoutes(app, { service, verify });
    const isAdministratorActive = createAdminAccountCheck({
      getUser: (userId) => aths.getUser(userId),
      ttlMs: config.ADMIN_ACCOUNT_CACHE_MS,
      maxStaleMs: config.ADMIN_ACCOUNT_MAX_STALE_MS,
      logger,
      metrics,
    });
    registerAdminRoutes(app, { service, verify, isAdministratorActive });

    app.addHook('onClose', async () => {
      await statusSync?.stop();
      await aths.close();
      if (ownsDatabase) await database.close();
    });
    await app.ready();
    await statusSync?.start();
    app.log.info({ database: database.location, driver: database.driver }, 'CRMS ready');
    return app;
  } catch (error) {
    await statusSync?.stop().catch(() => undefined);
    await aths.close().catch(() => undefined);
    if (ownsDatabase) await database.close().catch(() => undefined);
    throw error;
  }
}
