/**
 * No customer lost, none duplicated, kept as a test (a short version of the bench's outage and chaos scenarios),
 * with real processes: CRMS stopped while customers register and started again; then CRMS answering 500 to a
 * random 30 % of calls (half of them after doing the work) while ATHS is killed with SIGKILL and restarted. At the
 * end every Customer user in ATHS's database has exactly one row in CRMS's database.
 *
 * Bounded waits only (generous, for a loaded 2-core machine), no timing assertions. The outbox's lease and backoff
 * cap are shortened through ATHS's own PROVISIONING_* settings so that a delivery abandoned by the killed ATHS is
 * retaken within seconds rather than the production 30 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { startCluster, type Cluster } from '../../bench/lib/cluster.ts';
import { audit, stopForAudit, waitForDelivery } from '../../bench/lib/consistency.ts';
import { runChaos } from '../../bench/scenarios/chaos.ts';
import { runOutage } from '../../bench/scenarios/outage.ts';

describe.each(testDatabaseDrivers())('no lost or duplicated customers on %s', (driver) => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      driver,
      label: 'sys_noloss',
      captureOutput: true,
      faults: { failureRate: 0, placement: 'mixed', seed: 11 },
      athsEnv: {
        PROVISIONING_LEASE_MS: '3000',
        PROVISIONING_TIMEOUT_MS: '2000',
        PROVISIONING_BACKOFF_MAX_MS: '2000',
      },
    });
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('registers normally while CRMS is down, and delivers every customer once it is back', async () => {
    const run = await runOutage(cluster, { rate: 10, beforeMs: 1_000, outageMs: 3_000, afterMs: 1_000, drainTimeoutMs: 45_000, audit: false });
    expect(run.load.failed, JSON.stringify(run.load.statuses)).toBe(0);
    // Registrations were started while CRMS was down (their answers may come later on a slow machine).
    expect(run.during.completed).toBeGreaterThan(0);
    expect(run.drained).toBe(true);
    const all = await waitForDelivery(cluster, run.registeredIds, 45_000, 200);
    expect(all.missing).toBe(0);
  }, 120_000);

  it('loses nothing with CRMS failing 30 % of calls and ATHS killed mid-run', async () => {
    // runChaos kills ATHS right after a burst of registrations is answered, so deliveries are in flight (leased).
    const run = await runChaos(cluster, {
      rate: 10,
      durationMs: 4_000,
      killAtMs: 2_000,
      failureRate: 0.3,
      drainTimeoutMs: 45_000,
      audit: false,
      burstBeforeKill: 10,
    });
    expect(run.load.succeeded).toBeGreaterThan(0);
    expect(run.proxy.faultsBefore + run.proxy.faultsAfter).toBeGreaterThan(0);
    expect(run.drained).toBe(true);
  }, 120_000);

  it('counts 0 lost and 0 duplicated customers in the databases', async () => {
    if (driver === 'pglite') await stopForAudit(cluster);
    const counted = await audit(cluster);
    expect(counted.athsCustomers).toBeGreaterThan(0);
    expect(counted.lost, `lost: ${counted.lostIds.join(', ')}`).toBe(0);
    expect(counted.duplicated).toBe(0);
    expect(counted.orphans).toBe(0);
    expect(counted.crmsRows).toBe(counted.athsCustomers);
  }, 60_000);
});
