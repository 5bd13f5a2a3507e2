import type { Registry } from 'prom-client';
import {
  enqueue,
  failureFromResponse,
  isSuccessStatus,
  OutboxWorker,
  outboxSettingsFrom,
  workerTuning,
  type DatabaseHandle,
  type Logger,
  type OutboxHandler,
  type OutboxSettings,
} from '@shop/service-kit';
import type { CrmsConfig } from '../config.ts';
import type { CustomerStatusHooks } from '../customers/hooks.ts';
import type { CustomerStatus } from '../customers/schema.ts';
import { createAthsStatusClient } from './aths-status-client.ts';
import { userStatusOutbox } from './schema.ts';

const USER_STATUS_TOPIC = 'user.status';
/** The prefix of the variables (STATUS_SYNC_ENABLED, STATUS_SYNC_CONCURRENCY, …; see the kit's outboxEnvShape). */
const STATUS_SYNC_ENV_PREFIX = 'STATUS_SYNC';

export interface UserStatusPayload {
  userId: string;
  isActive: boolean;
}

/** Suspended and Inactive deactivate the ATHS account; Active reactivates it. */
export const isActiveFor = (status: CustomerStatus): boolean => status === 'Active';

/**
 * The CRMS side of status propagation: administrator status changes → user.status messages in the same
 * transaction → PATCH {ATHS}/api/internal/user/{userId}/status. Changes that came from ATHS (the internal PATCH)
 * do not call the hooks, so nothing echoes back; and ATHS does not send back a change that CRMS made.
 */
export function createUserStatusSync(
  deps: { config: CrmsConfig; database: DatabaseHandle; logger: Logger; metrics: Registry },
  options: { deliver?: boolean; settings?: Partial<OutboxSettings> } = {},
) {
  const { config, database } = deps;
  const settings: OutboxSettings = { ...outboxSettingsFrom(config, STATUS_SYNC_ENV_PREFIX), ...options.settings };
  const deliver = options.deliver ?? settings.enabled;
  const client = createAthsStatusClient({
    baseUrl: config.ATHS_BASE_URL,
    apiKey: config.ATHS_SERVICE_API_KEY,
    timeoutMs: settings.timeoutMs,
    connections: Math.min(32, Math.max(4, settings.concurrency)),
  });
  const handler: OutboxHandler = async (message) => {
    const { userId, isActive } = message.payload as UserStatusPayload;
    const response = await client.setUserActive(userId, isActive);
    if (!isSuccessStatus(response.status)) return failureFromResponse(response);
    return { outcome: 'delivered', status: response.status, result: { isActive }, logFields: { isActive } };
  };
  const worker = new OutboxWorker({
    db: database.db,
    table: userStatusOutbox,
    handlers: { [USER_STATUS_TOPIC]: handler },
    logger: deps.logger,
    metrics: deps.metrics,
    metricPrefix: 'aths_status_sync',
    targetName: 'ATHS',
    keyLabel: 'userId',
    listen: (channel, onNotify) => database.listen(channel, onNotify),
    ...workerTuning(settings),
  });
  const hooks: CustomerStatusHooks = {
    async onCustomerStatusChanged(tx, change) {
      const payload: UserStatusPayload = { userId: change.userId, isActive: isActiveFor(change.status) };
      await enqueue(tx, userStatusOutbox, { topic: USER_STATUS_TOPIC, key: change.userId, payload });
    },
    afterCommit() {
      worker.nudge();
    },
  };
  return {
    hooks,
    worker,
    deliver,
    async start() {
      if (!deliver) {
        deps.logger.warn('STATUS_SYNC_ENABLED is off: status changes for ATHS are queued but not delivered by this instance');
        return;
      }
      await worker.start();
    },
    async stop() {
      await worker.stop();
      await client.close();
    },
  };
}

export type UserStatusSync = ReturnType<typeof createUserStatusSync>;
