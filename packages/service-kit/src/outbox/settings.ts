import { z } from 'zod';
import { envBoolean, envInteger } from '../config.ts';
import type { BackoffPolicy } from '../backoff.ts';

const share = (fallback: number) =>
  z.coerce
    .number()
    .min(0)
    .max(1)
    .optional()
    .transform((value) => value ?? fallback);

/** The tunables of one outbox, unprefixed (see outboxEnvShape). Defaults are the production values. */
const outboxEnv = {
  /** Deliver from this instance (the hooks always write to the outbox; delivery can be turned off per instance). */
  ENABLED: envBoolean(true),
  /** Deliveries in flight at most. */
  CONCURRENCY: envInteger(32, 1),
  /** Backoff: first retry delay, cap, and the randomised share of each delay. */
  BACKOFF_BASE_MS: envInteger(500, 1),
  BACKOFF_MAX_MS: envInteger(300_000, 1),
  BACKOFF_JITTER: share(0.5),
  /** Periodic look for due messages (retries, other instances' leftovers, expired leases). */
  POLL_INTERVAL_MS: envInteger(1_000, 10),
  /** While the target is down, one message (due or not) is tried this often. */
  PROBE_INTERVAL_MS: envInteger(1_000, 10),
  /** Retryable failures in a row after which the target counts as down (backlog paused, probing only). */
  CIRCUIT_THRESHOLD: envInteger(3, 1),
  /** How long a claimed message is reserved for the instance delivering it. */
  LEASE_MS: envInteger(30_000, 100),
  /** Whole-request deadline of one call to the target. */
  TIMEOUT_MS: envInteger(5_000, 1),
};

type OutboxEnv = typeof outboxEnv;

/**
 * The outbox variables under a prefix, to spread into a service's env schema: `outboxEnvShape('PROVISIONING')` →
 * `PROVISIONING_ENABLED`, `PROVISIONING_CONCURRENCY`, … (every one: docs/provisioning.md, "Configuration").
 */
export function outboxEnvShape<const P extends string>(prefix: P) {
  return Object.fromEntries(Object.entries(outboxEnv).map(([name, schema]) => [`${prefix}_${name}`, schema])) as {
    [K in keyof OutboxEnv as `${P}_${K}`]: OutboxEnv[K];
  };
}

export interface OutboxSettings {
  enabled: boolean;
  concurrency: number;
  backoff: BackoffPolicy;
  pollIntervalMs: number;
  probeIntervalMs: number;
  circuitThreshold: number;
  leaseMs: number;
  timeoutMs: number;
}

/** Reads the parsed variables of `outboxEnvShape(prefix)` back out of a service's config. */
export function outboxSettingsFrom(config: object, prefix: string): OutboxSettings {
  const values = config as Record<string, unknown>;
  const read = <T>(name: keyof OutboxEnv): T => {
    const value = values[`${prefix}_${name}`];
    return (value === undefined ? outboxEnv[name].parse(undefined) : value) as T;
  };
  return {
    enabled: read('ENABLED'),
    concurrency: read('CONCURRENCY'),
    backoff: { baseMs: read('BACKOFF_BASE_MS'), maxMs: read('BACKOFF_MAX_MS'), jitter: read('BACKOFF_JITTER') },
    pollIntervalMs: read('POLL_INTERVAL_MS'),
    probeIntervalMs: read('PROBE_INTERVAL_MS'),
    circuitThreshold: read('CIRCUIT_THRESHOLD'),
    leaseMs: read('LEASE_MS'),
    timeoutMs: read('TIMEOUT_MS'),
  };
}

/** The part of the settings that tunes an OutboxWorker (spread into its options). */
export function workerTuning(settings: OutboxSettings) {
  const { concurrency, leaseMs, pollIntervalMs, probeIntervalMs, circuitThreshold, backoff } = settings;
  return { concurrency, leaseMs, pollIntervalMs, probeIntervalMs, circuitThreshold, backoff };
}
