import type { Registry } from 'prom-client';
import { getTableName, sql } from 'drizzle-orm';
import {
  OutboxWorker,
  outboxSettingsFrom,
  outboxSummary,
  requeueOutbox,
  workerTuning,
  rowsOf,
  type App,
  type DatabaseHandle,
  type Logger,
  type OutboxSettings,
} from '@shop/service-kit';
import type { AthsConfig } from '../config.ts';
import type { Guards } from '../http/guards.ts';
import { createCrmsClient, type CrmsClient } from './crms-client.ts';
import { provisioningHandlers } from './handlers.ts';
import { provisioningHooks } from './hooks.ts';
import { registerCoverageMetrics } from './metrics.ts';
import { provisioningCoverage, reconcileCustomers, type ReconcileResult } from './reconcile.ts';
import type { SyncStatus } from './dto.ts';
import { registerCustomerSyncRoutes } from './routes.ts';
import { customerOutbox } from './schema.ts';

/** The prefix of the provisioning variables (PROVISIONING_ENABLED, PROVISIONING_CONCURRENCY, …; see the kit's outboxEnvShape). */
const PROVISIONING_ENV_PREFIX = 'PROVISIONING';

export interface CustomerProvisioningOptions {
  /** Deliver from this process (default: PROVISIONING_ENABLED, and only when CRMS_BASE_URL is set). The CLI turns it off. */
  deliver?: boolean;
  /** Overrides of the PROVISIONING_* settings. */
  settings?: Partial<OutboxSettings>;
}

export interface CustomerProvisioningDeps {
  config: AthsConfig;
  database: DatabaseHandle;
  logger: Logger;
  metrics: Registry;
}

/**
 * ATHS → CRMS customer provisioning on the kit's transactional outbox: the lifecycle hooks that write intents in the
 * user's transaction, the worker that delivers them to CRMS, the admin routes and the operator functions.
 */
export function createCustomerProvisioning(deps: CustomerProvisioningDeps, options: CustomerProvisioningOptions = {}) {
  const { config, database, logger } = deps;
  const settings: OutboxSettings = { ...outboxSettingsFrom(config, PROVISIONING_ENV_PREFIX), ...options.settings };
  const baseUrl = config.CRMS_BASE_URL;
  const deliver = (options.deliver ?? settings.enabled) && baseUrl !== undefined;
  let client: CrmsClient | undefined;
  if (deliver) {
    client = createCrmsClient({
      baseUrl,
      apiKey: config.CRMS_SERVICE_API_KEY ?? '',
      timeoutMs: settings.timeoutMs,
      connections: Math.max(8, settings.concurrency),
    });
  }
  const worker = new OutboxWorker({
    db: database.db,
    table: customerOutbox,
    handlers: client ? provisioningHandlers(client) : {},
    logger,
    metrics: deps.metrics,
    metricPrefix: 'crms_provisioning',
    targetName: 'CRMS',
    keyLabel: 'userId',
    listen: (channel, onNotify) => database.listen(channel, onNotify),
    ...workerTuning(settings),
  });
  registerCoverageMetrics(deps.metrics, database.db);
  const hooks = provisioningHooks(() => worker.nudge());

  async function status(): Promise<SyncStatus> {
    const [summary, customers] = await Promise.all([outboxSummary(database.db, customerOutbox), provisioningCoverage(database.db)]);
    return {
      counts: summary.counts,
      oldestPendingAgeSeconds: Math.round(summary.oldestPendingAgeSeconds * 1000) / 1000,
      oldestPendingCreatedAt: summary.oldestPendingCreatedAt,
      customers,
      delivery: { enabled: deliver, crmsBaseUrl: deliver ? client!.baseUrl : null, targetFailing: worker.targetFailing },
      deadLetters: summary.dead.map((dead) => ({
        messageId: dead.id,
        userId: dead.key,
        operation: dead.topic,
        attempts: dead.attempts,
        lastStatus: dead.lastStatus,
        lastError: dead.lastError,
        createdAt: dead.createdAt,
        failedAt: dead.failedAt,
      })),
    };
  }

  async function retry(userIds?: string[]): Promise<number> {
    const count = await requeueOutbox(database.db, customerOutbox, userIds);
    worker.nudge();
    return count;
  }

  async function reconcile(): Promise<ReconcileResult> {
    const result = await reconcileCustomers(database.db);
    worker.nudge();
    return result;
  }

  return {
    hooks,
    worker,
    deliver,
    settings,
    status,
    retry,
    reconcile,
    registerRoutes(app: App, administratorGuard: Guards['administrator']) {
      registerCustomerSyncRoutes(app, administratorGuard, { status, retry, reconcile });
    },
    /** Starts delivering (when enabled). On a database whose outbox was never used, first queues existing Customers. */
    async start() {
      if (!deliver) {
        logger.warn(
          baseUrl === undefined
            ? 'CRMS_BASE_URL is not set: customer provisioning is queued but not delivered by this instance'
            : 'PROVISIONING_ENABLED is off: customer provisioning is queued but not delivered by this instance',
        );
        return;
      }
      if (!config.CRMS_SERVICE_API_KEY) logger.warn('CRMS_SERVICE_API_KEY is not set: CRMS will refuse provisioning calls (401)');
      const [first] = await rowsOf<{ used: boolean }>(
        database.db,
        sql`SELECT EXISTS (SELECT 1 FROM ${sql.identifier(getTableName(customerOutbox))}) AS used`,
      );
      if (!first?.used) {
        const result = await reconcileCustomers(database.db);
        if (result.queued > 0) logger.info(result, 'customer provisioning: queued the Customers created before the outbox existed');
      }
      await worker.start();
    },
    /** Stops delivering (waits for calls in flight), then closes the CRMS connection pool. */
    async stop() {
      await worker.stop();
      await client?.close();
    },
  };
}

export type CustomerProvisioning = ReturnType<typeof createCustomerProvisioning>;
