/**
 * Chaos: registrations while the proxy fails 30 % of ATHS → CRMS calls and ATHS is SIGKILLed and restarted; then lost
 * and duplicated customers are counted (docs/benchmarks.md, "Chaos").
 */
import { performance } from 'node:perf_hooks';
import { clusterMissing, type Cluster, type Driver } from '../../tests/support/cluster.ts';
import { athsCustomerIds, audit, stopForAudit, type Audit } from '../../tests/support/consistency.ts';
import type { FaultProxyStats } from '../../tests/support/fault-proxy.ts';
import { registerMany, registrationBody, runTag } from '../../tests/support/registrations.ts';
import { measureDrain } from '../lib/drain.ts';
import { fmt, openLoop, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { acquireCluster, driverName, QUICK_ATHS_ENV, restartIfShared, type Scenario } from './context.ts';
import { warmUpRegistrations } from './outage.ts';

export interface ChaosOptions {
  rate: number;
  durationMs: number;
  /** When (ms into the run) ATHS is killed; it is started again right away. */
  killAtMs: number;
  failureRate: number;
  drainTimeoutMs: number;
  /** Count lost and duplicated customers at the end (default true; on PGlite this stops the services). */
  audit?: boolean;
  /**
   * Registrations sent all at once right before the kill (default 20): ATHS is killed as soon as they are answered,
   * while their deliveries to CRMS are most likely in flight.
   */
  burstBeforeKill?: number;
}

export interface ChaosRun {
  load: LoadResult;
  proxy: FaultProxyStats;
  athsDownMs: number;
  drainMs: number;
  drained: boolean;
  audit: Audit | undefined;
}

async function runChaos(cluster: Cluster, options: ChaosOptions): Promise<ChaosRun> {
  if (!cluster.proxy || !cluster.aths) throw new Error('chaos needs ATHS and the fault proxy');
  const tag = runTag('chaos');
  cluster.proxy.failureRate = options.failureRate;
  const statsBefore = { ...cluster.proxy.stats };
  let t0 = 0;
  const loadPromise = openLoop({
    rate: options.rate,
    durationMs: options.durationMs,
    drainTimeoutMs: 15_000,
    onStart: (start) => {
      t0 = start;
    },
    request: async (i) => {
      const response = await cluster.athsHttp!.json('POST', '/api/auth/register', registrationBody(tag, i));
      return { status: response.status, ok: response.status === 201 };
    },
  });
  while (t0 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const wait = t0 + options.killAtMs - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await registerMany(cluster, runTag('burst'), options.burstBeforeKill ?? 20);
  const killedAt = performance.now();
  await cluster.aths.kill();
  await cluster.aths.start();
  const athsDownMs = performance.now() - killedAt;
  const load = await loadPromise;
  // Faults off: from here on everything must reach CRMS.
  cluster.proxy.failureRate = 0;
  const proxy = Object.fromEntries(
    Object.entries(cluster.proxy.stats).map(([key, value]) => [key, value - statsBefore[key as keyof FaultProxyStats]]),
  ) as unknown as FaultProxyStats;
  const drainStarted = Date.now();
  // Every Customer in ATHS's database (also those committed by the killed ATHS without an answer) must arrive.
  const ids = await athsCustomerIds(cluster);
  const measureStarted = Date.now();
  const result = await measureDrain(cluster, ids, options.drainTimeoutMs);
  const drained = result.drained;
  const drainMs = measureStarted - drainStarted + result.elapsedMs;
  let counted: Audit | undefined;
  if (options.audit !== false) {
    if (cluster.driver === 'pglite') await stopForAudit(cluster);
    counted = await audit(cluster);
  }
  return { load, proxy, athsDownMs, drainMs, drained, audit: counted };
}

export const chaosScenario: Scenario = async (context) => {
  const options: ChaosOptions = context.quick
    ? { rate: 20, durationMs: 8_000, killAtMs: 4_000, failureRate: 0.3, drainTimeoutMs: 90_000 }
    : { rate: 20, durationMs: 40_000, killAtMs: 20_000, failureRate: 0.3, drainTimeoutMs: 180_000 };
  const section: Section = {
    title: 'Chaos (CRMS failing 30 %, ATHS killed)',
    description: `Open loop at ${options.rate} registrations/s for ${options.durationMs / 1000} s through ATHS, whose CRMS calls go through tests/support/fault-proxy.ts:
a seeded random ${options.failureRate * 100} % of them get a 500 (half before reaching CRMS, half after CRMS created the record). At ${options.killAtMs / 1000} s ATHS is
killed with SIGKILL right after a burst of 20 registrations is answered (no shutdown hooks; their deliveries, likely in flight, abandoned mid-lease: another
instance may take them only when the lease, 30 s by default, expires) and started again at once. Then the faults stop and the bench waits
until every Customer user in ATHS's database has a CRMS record. Lost = Customer users in ATHS without a CRMS row; duplicated = CRMS rows beyond
the first per \`user_id\` (both counted in the databases). Goal: 0 and 0.${
      context.quick
        ? ` Quick mode: ATHS runs with ${Object.entries(QUICK_ATHS_ENV).map(([k, v]) => `${k}=${v}`).join(', ')} (production: 30 s lease, 5 s timeout), so the drain does not wait 30 s for an expired lease.`
        : ''
    }`,
    blocks: [],
    summary: [],
  };
  const missing = clusterMissing();
  if (missing) return { ...section, skipped: missing };
  const started = Date.now();
  const drivers: Driver[] = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  const rows: unknown[][] = [];
  for (const driver of drivers) {
    context.log(`chaos on ${driverName(driver)}`);
    const acquired = await acquireCluster(context, { driver, label: 'bench_chaos', faults: { failureRate: 0, placement: 'mixed', seed: 7 } });
    const cluster = acquired.cluster;
    try {
      await warmUpRegistrations(cluster);
      const run = await runChaos(cluster, options);
      await restartIfShared(acquired);
      const counted = run.audit!;
      const refused = run.load.statuses['0'] ?? 0;
      section.summary!.push({
        goal: `Chaos (30 % CRMS 500s, ATHS SIGKILL): 0 lost, 0 duplicated (${driverName(driver)})`,
        measured: `${counted.lost} lost, ${counted.duplicated} duplicated of ${counted.athsCustomers}${run.drained ? `, drained ${fmt.ms(run.drainMs / 1000)} s after the faults stopped` : ', not drained'}`,
        pass: counted.lost === 0 && counted.duplicated === 0,
      });
      rows.push([
        driverName(driver),
        `${run.load.succeeded} / ${run.load.completed}`,
        `${refused} (ATHS down ${fmt.ms(run.athsDownMs / 1000)} s)`,
        run.load.failed - refused,
        `${run.proxy.requests} / ${run.proxy.faultsBefore + run.proxy.faultsAfter} (${run.proxy.faultsBefore} before, ${run.proxy.faultsAfter} after)`,
        run.drained ? `${fmt.ms(run.drainMs / 1000)} s` : `not drained in ${options.drainTimeoutMs / 1000} s`,
        `${counted.athsCustomers} / ${counted.crmsRows}`,
        `${counted.lost} ${verdict(counted.lost === 0)}${counted.lost ? ` (e.g. ${counted.lostIds.slice(0, 3).join(', ')})` : ''}`,
        `${counted.duplicated} ${verdict(counted.duplicated === 0)}`,
      ]);
    } catch (error) {
      rows.push([driverName(driver), `failed: ${(error as Error).message.split('\n')[0]}`, '', '', '', '', '', '', '']);
    } finally {
      await acquired.release();
    }
  }
  section.blocks.push(
    table(
      [
        'Database',
        '201s / registrations',
        'Refused while ATHS was down',
        'Other errors',
        'CRMS calls / injected 500s',
        'Drain after faults stop',
        'ATHS customers / CRMS rows',
        'Lost (goal 0)',
        'Duplicated (goal 0)',
      ],
      rows,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
