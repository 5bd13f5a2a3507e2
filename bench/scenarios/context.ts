import { startCluster, type Cluster, type ClusterOptions, type Driver } from '../../tests/support/cluster.ts';
import type { Section } from '../lib/report.ts';

export interface ScenarioContext {
  quick: boolean;
  /** Drivers to measure on (PostgreSQL when its server answers, PGlite always). */
  drivers: Driver[];
  log(message: string): void;
  /**
   * Quick mode: one cluster (ATHS + fault proxy + CRMS on the first driver) shared by the scenarios that run on it,
   * started on first use, so that the quick run does not pay for a start-up per scenario.
   */
  shared?: () => Promise<Cluster>;
}

export type Scenario = (context: ScenarioContext) => Promise<Section>;

/** Seconds, scaled down in quick mode. */
export function seconds(context: ScenarioContext, full: number, quick: number): number {
  return (context.quick ? quick : full) * 1000;
}

export const driverName = (driver: Driver) => (driver === 'postgres' ? 'PostgreSQL' : 'PGlite');

/** ATHS settings of the quick mode's shared cluster: a short outbox lease, so that a killed ATHS's deliveries are retaken in seconds. */
export const QUICK_ATHS_ENV = { PROVISIONING_LEASE_MS: '3000', PROVISIONING_TIMEOUT_MS: '2000' };

export interface Acquired {
  cluster: Cluster;
  shared: boolean;
  release(): Promise<void>;
}

/** The shared quick-mode cluster when it fits (same driver, ATHS wanted), else a fresh cluster of its own. */
export async function acquireCluster(context: ScenarioContext, options: ClusterOptions): Promise<Acquired> {
  if (context.quick && context.shared && options.driver === context.drivers[0] && options.withAths !== false) {
    const cluster = await context.shared();
    if (options.faults && cluster.proxy) cluster.proxy.failureRate = 0;
    return { cluster, shared: true, release: async () => undefined };
  }
  const cluster = await startCluster(options);
  return { cluster, shared: false, release: () => cluster.stop() };
}

/** After an audit on PGlite (which stops the services to open their data), a shared cluster is started again. */
export async function restartIfShared(acquired: Acquired): Promise<void> {
  if (!acquired.shared) return;
  if (!acquired.cluster.crms.running) await acquired.cluster.crms.start();
  if (acquired.cluster.aths && !acquired.cluster.aths.running) await acquired.cluster.aths.start();
}
