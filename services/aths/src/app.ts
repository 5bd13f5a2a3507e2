import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  accessTokenVerifier,
  buildServer,
  createLogger,
  createMetricsRegistry,
  openDatabase,
  operationsAccess,
  type AccessClaims,
  type App,
  type Database,
  type DatabaseHandle,
  type Logger,
} from '@shop/service-kit';
import type { FastifyServerFactory } from 'fastify';
import type { Registry } from 'prom-client';
import { createAccounts, type Accounts } from './accounts/index.ts';
import type { AthsConfig } from './config.ts';
import { createCustomerProvisioning, type CustomerProvisioningOptions } from './customer-provisioning/index.ts';
import { detailedHealthCheck } from './health/detailed.ts';
import { createGuards } from './http/guards.ts';
import { registerRateLimits } from './http/rate-limits.ts';
import { createMailer, type MailTransport } from './mail/mailer.ts';
import { createAthsMetrics } from './metrics.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { registerDetailedHealthRoute } from './routes/health.ts';
import { registerInternalRoutes } from './routes/internal.ts';
import { registerUserRoutes } from './routes/user.ts';
import { registerWellKnownRoutes } from './routes/well-known.ts';
import { pruneOneTimeTokens } from './one-time-tokens/repository.ts';
import { pruneRefreshTokens } from './sessions/repository.ts';
import { createSessions } from './sessions/service.ts';
import { createSigningKeyStore, type SigningKeyStore } from './signing-keys/key-store.ts';
import { noUserLifecycleHooks, type UserLifecycleHooks } from './users/lifecycle-hooks.ts';
import { createPasswordHasher, type PasswordHasher } from './users/passwords.ts';

/** What buildApp built, for the CLI and tests (`app.aths`); routes receive only what they use. */
export interface AthsModules extends Accounts {
  config: AthsConfig;
  db: Database;
  keys: SigningKeyStore;
  passwords: PasswordHasher;
  verifyAccessToken: (token: string) => Promise<AccessClaims>;
}

export type AthsApp = App & { aths: AthsModules };

export const SERVICE_NAME = 'aths';
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../migrations', import.meta.url));
export const MIGRATIONS_TABLE = '__aths_migrations';
/** Where ATHS keeps its PGlite data when DATABASE_URL is unset: `<repository root>/data/aths`, whatever the working
 * directory (npm runs workspace scripts inside services/aths; `npm start`, `start:aths` and the CLI must agree). */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../data/aths', import.meta.url));

export const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** ATHS's database (PGlite, or PostgreSQL with the configured timeouts), migrated: one attempt. */
export function openAthsDatabase(config: AthsConfig, logger?: Logger): Promise<DatabaseHandle> {
  return openDatabase({
    url: config.DATABASE_URL,
    defaultDir: DEFAULT_DATA_DIR,
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: MIGRATIONS_TABLE,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    logger,
  });
}

/** What the lifecycle-hook factory can use (the rest of the context is built after the hooks). */
export interface HookFactoryContext {
  config: AthsConfig;
  database: DatabaseHandle;
  logger: Logger;
  metrics: Registry;
}

export interface BuildAppDeps {
  /** An open database (not closed by the app); default: openDatabase(DATABASE_URL or ./data/aths). */
  database?: DatabaseHandle;
  logger?: Logger;
  /** Replaces the SMTP transport (tests prefer a real SMTP server through SMTP_URL). */
  mailTransport?: MailTransport;
  /** Called inside every user-write transaction (default: no-op). May be a factory receiving the database etc. */
  userLifecycleHooks?: UserLifecycleHooks | ((ctx: HookFactoryContext) => UserLifecycleHooks | Promise<UserLifecycleHooks>);
  /** Create the ADMIN_EMAIL administrator at start (default true when ADMIN_EMAIL is set). */
  bootstrapAdmin?: boolean;
  /** ATHS → CRMS customer provisioning (outbox hooks, worker, admin routes); `false` leaves it out entirely. */
  customerProvisioning?: CustomerProvisioningOptions | false;
  /** How often signing keys are re-read from the database (default 30 s). */
  keyRefreshIntervalMs?: number;
  /** Serve on this server instead of listen() (the kit's startService). */
  serverFactory?: FastifyServerFactory;
}

/**
 * Builds ATHS: opens (and migrates) the database, loads or creates the signing key, creates the first
 * administrator, and registers every route. Call `listen()` or `inject()` on the result; `close()` releases all.
 */
export async function buildApp(config: AthsConfig, deps: BuildAppDeps = {}): Promise<AthsApp> {
  const logger = deps.logger ?? createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  for (const warning of config.warnings) logger.warn(warning);
  const metrics = createMetricsRegistry(SERVICE_NAME);
  const ownsDatabase = !deps.database;
  const database = deps.database ?? (await openAthsDatabase(config, logger));
  const cleanups: Array<() => Promise<void> | void> = [];
  if (ownsDatabase) cleanups.push(() => database.close());

  try {
    // ioredis is loaded only when configured: most starts (npm start, tests) never use it (~0.1–0.3 s of loading).
    const redis = config.REDIS_URL
      ? new (await import('ioredis')).Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 })
      : null;
    if (redis) {
      redis.on('error', (error: Error) => logger.warn({ err: { message: error.message } }, 'redis error'));
      cleanups.unshift(async () => {
        await redis.quit().catch(() => redis.disconnect());
      });
      // Counters only work once connected (no offline queue): wait briefly, but never fail the start over Redis.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn('redis not reachable yet: rate limits are not enforced until it is');
          resolve();
        }, 2_000);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }

    const keys = createSigningKeyStore(database.db, {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL,
      refreshIntervalMs: deps.keyRefreshIntervalMs,
      logger,
    });
    await keys.init();
    const verifyAccessToken = accessTokenVerifier({ keys: keys.getKey, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });

    const mailer = createMailer({
      smtpUrl: config.SMTP_URL,
      from: config.MAIL_FROM,
      logger,
      transport: deps.mailTransport,
      logLinks: config.NODE_ENV !== 'production',
    });
    cleanups.unshift(() => mailer.close());
    if (!mailer.delivers) logger.warn('SMTP_URL is not set: e-mails and their links are written to the log');

    const passwords = createPasswordHasher();
    const athsMetrics = createAthsMetrics(metrics);
    const sessions = createSessions({
      db: database.db,
      keys,
      logger,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL,
      refreshTokenAbsoluteTtlSeconds: config.REFRESH_TOKEN_ABSOLUTE_TTL,
      rotation: config.REFRESH_TOKEN_ROTATION,
    });
    const provisioning =
      deps.customerProvisioning === false
        ? null
        : createCustomerProvisioning({ config, database, logger, metrics }, deps.customerProvisioning);
    if (provisioning) cleanups.unshift(() => provisioning.stop());
    const hooksOption = deps.userLifecycleHooks ?? provisioning?.hooks ?? noUserLifecycleHooks;
    const hooks = typeof hooksOption === 'function' ? await hooksOption({ config, database, logger, metrics }) : hooksOption;
    const accounts = createAccounts({ db: database.db, hooks, passwords, sessions, mailer, config, logger, metrics: athsMetrics });
    cleanups.unshift(() => accounts.credentials.drain());

    const app = (await buildServer({
      service: SERVICE_NAME,
      version: VERSION,
      description: 'Authentication Service: accounts, sign-in, access and refresh tokens, JWKS, user administration',
      logger,
      metrics,
      trustProxy: config.TRUST_PROXY,
      corsOrigins: config.CORS_ORIGINS,
      operations: operationsAccess(config),
      serverFactory: deps.serverFactory,
      readiness: {
        database: () => database.ping(),
        ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
      },
    })) as AthsApp;

    const rateLimits = await registerRateLimits(app, config, redis ?? undefined);

    const guards = createGuards({ verifyAccessToken, accountState: (userId) => accounts.lookups.accountState(userId), apiKeys: config.SERVICE_API_KEYS });
    const { registration, credentials, emailVerification, profile, administration, lookups } = accounts;
    registerWellKnownRoutes(app, { keys });
    registerAuthRoutes(app, {
      registration,
      credentials,
      emailVerification,
      sessions,
      rateLimits,
      userGuard: guards.user,
      refreshes: athsMetrics.refreshes,
      verifiedRedirectUrl: config.EMAIL_VERIFIED_REDIRECT_URL,
    });
    registerUserRoutes(app, { profile, credentials, rateLimits, userGuard: guards.user });
    registerAdminRoutes(app, { administration, registration, administratorGuard: guards.administrator });
    registerInternalRoutes(app, { lookups, administration, verifyAccessToken, internalGuard: guards.internal });
    provisioning?.registerRoutes(app, guards.administrator);
    registerDetailedHealthRoute(app, detailedHealthCheck({ config, database, redis, mailer, logger, provisioning }));
    app.decorate('aths', { ...accounts, config, db: database.db, keys, passwords, verifyAccessToken } satisfies AthsModules);

    // Housekeeping: expired tokens are deleted hourly.
    const prune = setInterval(() => {
      const cutoff = new Date(Date.now() - 24 * 3600_000);
      Promise.all([pruneRefreshTokens(database.db, cutoff), pruneOneTimeTokens(database.db, cutoff)]).catch((error: unknown) =>
        logger.warn({ err: error }, 'pruning expired tokens failed'),
      );
    }, 3600_000);
    prune.unref();
    cleanups.unshift(() => clearInterval(prune));

    app.addHook('onClose', async () => {
      for (const cleanup of cleanups) {
        try {
          await cleanup();
        } catch (error) {
          logger.warn({ err: error }, 'error while closing');
        }
      }
    });

    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD && deps.bootstrapAdmin !== false) {
      const outcome = await registration.ensureAdministrator(config.ADMIN_EMAIL, config.ADMIN_PASSWORD, config.ADMIN_FULL_NAME);
      logger.info({ email: config.ADMIN_EMAIL, outcome }, outcome === 'created' ? 'created the first administrator' : 'administrator account already exists');
    }
    void passwords.warmUp();
    await provisioning?.start();
    return app;
  } catch (error) {
    for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
    throw error;
  }
}
