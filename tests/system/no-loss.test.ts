/**
 * No customer lost or duplicated, with real processes, through an outage and chaos (docs/provisioning.md, "Tests").
 * Bounded waits only; a short PROVISIONING_LEASE_MS lets a killed ATHS's deliveries be retaken in seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseDrivers, waitFor } from '@shop/service-kit/testing';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { athsCustomerIds, audit, stopForAudit, waitForDelivery } from '../support/consistency.ts';
import { registerMany, runTag } from '../support/registrations.ts';

const BATCH = 10;
const allCreated = Array.from({ length: BATCH }, () => 201);

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
    const tag = runTag('outage');
    const proxy = cluster.proxy!;
    const before = await registerMany(cluster, tag, BATCH);
    await cluster.crms.stop();
    const unreachable = proxy.stats.upstreamErrors;
    const during = await registerMany(cluster, tag, BATCH, BATCH);
    // ATHS has tried CRMS (through the proxy) and found it down before CRMS comes back.
    await waitFor(() => proxy.stats.upstreamErrors > unreachable, 20_000, 'a delivery attempt while CRMS is down');
    await cluster.crms.start();
    const after = await registerMany(cluster, tag, BATCH, 2 * BATCH);
    for (const batch of [before, during, after]) expect(batch.statuses).toEqual(allCreated);
    const delivered = await waitForDelivery(cluster, [...before.ids, ...during.ids, ...after.ids], 45_000, 200);
    expect(delivered.missing).toBe(0);
  }, 120_000);

  it('loses nothing with CRMS failing 30 % of calls and ATHS killed right after a burst', async () => {
    const tag = runTag('chaos');
    const proxy = cluster.proxy!;
    const injected = () => proxy.stats.faultsBefore + proxy.stats.faultsAfter;
    const faultsBefore = injected();
    proxy.failureRate = 0.3;
    const first = await registerMany(cluster, tag, BATCH);
    // Killed as soon as the burst is answered: its deliveries, most likely leased and in flight, are abandoned.
    const burst = await registerMany(cluster, tag, BATCH, BATCH);
    await cluster.aths!.kill();
    await cluster.aths!.start();
    const last = await registerMany(cluster, tag, BATCH, 2 * BATCH);
    for (const batch of [first, burst, last]) expect(batch.statuses).toEqual(allCreated);
    await waitFor(() => injected() > faultsBefore, 20_000, 'an injected 500');
    proxy.failureRate = 0;
    // Every Customer in ATHS's database must arrive, also any the killed ATHS committed without answering.
    const delivered = await waitForDelivery(cluster, await athsCustomerIds(cluster), 45_000, 200);
    expect(delivered.missing).toBe(0);
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
