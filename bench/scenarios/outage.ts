/**
 * CRMS outage: steady registrations (open loop) while CRMS is stopped for a while and started again. Registration
 * latency and errors before and during the outage, how long the backlog takes to reach CRMS once it is back, and
 * lost and duplicated customers counted in the databases afterwards.
 */
import { performance } from 'node:perf_hooks';
import { clusterMissing, type Cluster, type Driver } from '../../tests/support/cluster.ts';
import { audit, stopForAudit, waitForDelivery, type Audit } from '../../tests/support/consistency.ts';
import { registerMany, registrationBody, runTag } from '../../tests/support/registrations.ts';
import { measureDrain } from '../lib/drain.ts';
import { fmt, openLoop, window, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { acquireCluster, driverName, restartIfShared, type Scenario } from './context.ts';

export interface OutageOptions {
  rate: number;
  beforeMs: number;
  outageMs: number;
  afterMs: number;
  /** Bound on the wait for the backlog to reach CRMS after it is back. */
  drainTimeoutMs: number;
  /** Count lost and duplicated customers at the end (default true; on PGlite this stops the services). */
  audit?: boolean;
}

export interface OutageRun {
  load: LoadResult;
  before: LoadResult;
  during: LoadResult;
  after: LoadResult;
  /** Users whose 201 came while CRMS was down. */
  registeredDuringOutage: number;
  /** From the restart command / from CRMS answering /health/ready, until every outage registration was in CRMS. */
  drainFromStartCommandMs: number;
  drainFromHealthyMs: number;
  drained: boolean;
  missingAfterDrain: number;
  crmsBootMs: number;
  audit: Audit | undefined;
  /** Every user that got a 201. */
  registeredIds: string[];
}

/** A few registrations before measuring, so that the first measured ones do not pay for JIT and pool warm-up. */
export async function warmUpRegistrations(cluster: Cluster, count = 16): Promise<void> {
  await registerMany(cluster, runTag('warm'), count);
}

async function runOutage(cluster: Cluster, options: OutageOptions): Promise<OutageRun> {
  const tag = runTag('outage');
  const registered: { userId: string; at: number }[] = [];
  let t0 = 0;
  const phase = { stopAt: 0, stoppedAt: 0, startAt: 0, healthyAt: 0 };
  const totalMs = options.beforeMs + options.outageMs + options.afterMs;
  const loadPromise = openLoop({
    rate: options.rate,
    durationMs: totalMs,
    onStart: (start) => {
      t0 = start;
    },
    request: async (i) => {
      const response = await cluster.athsHttp!.json<{ data?: { user?: { _id?: string } } }>('POST', '/api/auth/register', registrationBody(tag, i));
      const userId = response.body?.data?.user?._id;
      if (response.status === 201 && userId) registered.push({ userId, at: performance.now() });
      return { status: response.status, ok: response.status === 201 };
    },
  });
  const sleepUntil = async (offsetMs: number) => {
    while (t0 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const wait = t0 + offsetMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };
  await sleepUntil(options.beforeMs);
  phase.stopAt = performance.now();
  await cluster.crms.stop();
  phase.stoppedAt = performance.now();
  await sleepUntil(options.beforeMs + options.outageMs);
  phase.startAt = performance.now();
  const startWallClock = Date.now();
  await cluster.crms.start();
  phase.healthyAt = performance.now();
  const duringIds = registered.filter((entry) => entry.at >= phase.stoppedAt && entry.at < phase.startAt).map((entry) => entry.userId);
  // Every outage registration's outbox row was written before the start command: drained when none older is pending.
  const drain = await measureDrain(cluster, duringIds, options.drainTimeoutMs, startWallClock);
  const drainedAt = phase.healthyAt + drain.elapsedMs;
  const load = await loadPromise;
  // Everything else registered must arrive too before counting.
  await waitForDelivery(cluster, registered.map((entry) => entry.userId), options.drainTimeoutMs, 250);
  let counted: Audit | undefined;
  if (options.audit !== false) {
    if (cluster.driver === 'pglite') await stopForAudit(cluster);
    counted = await audit(cluster);
  }
  const rel = (at: number) => at - t0;
  return {
    load,
    before: window(load, 0, rel(phase.stopAt)),
    during: window(load, rel(phase.stoppedAt), rel(phase.startAt)),
    after: window(load, rel(phase.healthyAt), totalMs),
    registeredDuringOutage: duringIds.length,
    drainFromStartCommandMs: drainedAt - phase.startAt,
    drainFromHealthyMs: drain.elapsedMs,
    drained: drain.drained,
    missingAfterDrain: drain.missing,
    crmsBootMs: phase.healthyAt - phase.startAt,
    audit: counted,
    registeredIds: registered.map((entry) => entry.userId),
  };
}

export const outageScenario: Scenario = async (context) => {
  const options: OutageOptions = context.quick
    ? { rate: 20, beforeMs: 3_000, outageMs: 8_000, afterMs: 5_000, drainTimeoutMs: 60_000 }
    : { rate: 20, beforeMs: 15_000, outageMs: 60_000, afterMs: 15_000, drainTimeoutMs: 120_000 };
  const section: Section = {
    title: 'CRMS outage',
    description: `Open loop at ${options.rate} registrations/s for ${(options.beforeMs + options.outageMs + options.afterMs) / 1000} s. After ${options.beforeMs / 1000} s CRMS is stopped
(SIGTERM) for ${options.outageMs / 1000} s, then started again. "Before" and "during" are the registrations started before the stop and while CRMS was down.
Drain: from CRMS answering \`/health/ready\` again (and from the start command, which includes CRMS's boot) until every customer registered during the outage
has a CRMS record (ATHS's \`/health/detailed\` backlog polled every 50 ms, then confirmed in CRMS). Lost = Customer users in ATHS's database with no CRMS row; duplicated = CRMS rows beyond the first per \`user_id\`, counted in CRMS's database.
Goals: registrations unaffected (latency during the outage within 10 % of before, no errors); ${context.quick ? 'in full mode, 1,000+ registrations made during a 60 s outage' : 'the 1,000+ registrations made during the outage'} all in CRMS within 15 s of CRMS starting again; 0 lost, 0 duplicated.`,
    blocks: [],
    summary: [],
  };
  const missing = clusterMissing();
  if (missing) return { ...section, skipped: missing };
  const started = Date.now();
  const drivers: Driver[] = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  const rows: unknown[][] = [];
  const outcome: unknown[][] = [];
  for (const driver of drivers) {
    context.log(`outage on ${driverName(driver)}`);
    const acquired = await acquireCluster(context, { driver, label: 'bench_outage' });
    const cluster = acquired.cluster;
    try {
      await warmUpRegistrations(cluster);
      const run = await runOutage(cluster, options);
      await restartIfShared(acquired);
      const counted = run.audit!;
      for (const [name, slice] of [
        ['before (CRMS up)', run.before],
        ['during (CRMS down)', run.during],
        ['after (CRMS back)', run.after],
      ] as const) {
        rows.push([
          driverName(driver),
          name,
          slice.completed,
          `${slice.failed} (${fmt.pct(slice.failed / Math.max(1, slice.completed))})`,
          `${fmt.ms(slice.latency.p50)} / ${fmt.ms(slice.latency.p90)} / ${fmt.ms(slice.latency.p99)}`,
        ]);
      }
      const p50Ratio = run.during.latency.p50 / run.before.latency.p50;
      const name = driverName(driver);
      section.summary!.push(
        {
          goal: `Registration latency with CRMS down within 10 % of with CRMS up, no errors (${name})`,
          measured: `p50 ${fmt.ms(run.during.latency.p50)} vs ${fmt.ms(run.before.latency.p50)} ms (× ${fmt.ratio(p50Ratio)}), ${run.during.failed} errors`,
          pass: p50Ratio <= 1.1 && run.during.failed === 0,
        },
        {
          goal: `${run.registeredDuringOutage >= 1000 ? '1,000+' : 'All'} registrations made while CRMS is down are in CRMS within 15 s of it starting again (${name})`,
          measured: run.drained
            ? `${run.registeredDuringOutage} in ${fmt.ms(run.drainFromStartCommandMs / 1000)} s from the start command (${fmt.ms(run.drainFromHealthyMs / 1000)} s after /health/ready)`
            : `${run.missingAfterDrain} of ${run.registeredDuringOutage} still missing after ${options.drainTimeoutMs / 1000} s`,
          pass: run.drained && run.drainFromStartCommandMs <= 15_000,
        },
        { goal: `CRMS outage: 0 lost, 0 duplicated (${name})`, measured: `${counted.lost} lost, ${counted.duplicated} duplicated of ${counted.athsCustomers}`, pass: counted.lost === 0 && counted.duplicated === 0 },
      );
      outcome.push([
        driverName(driver),
        `${fmt.ratio(p50Ratio)} ${verdict(p50Ratio <= 1.1 && run.during.failed === 0)}`,
        run.registeredDuringOutage,
        `${run.drained ? fmt.ms(run.drainFromHealthyMs / 1000) : `not drained (${run.missingAfterDrain} missing)`} s / ${fmt.ms(run.drainFromStartCommandMs / 1000)} s (boot ${fmt.ms(run.crmsBootMs / 1000)} s)`,
        `${verdict(run.drained && run.drainFromStartCommandMs <= 15_000)}${run.registeredDuringOutage < 1000 ? ` (${run.registeredDuringOutage} registrations, quick mode)` : ''}`,
        `${counted.athsCustomers} / ${counted.crmsRows}`,
        `${counted.lost} ${verdict(counted.lost === 0)}`,
        `${counted.duplicated} ${verdict(counted.duplicated === 0)}`,
      ]);
    } catch (error) {
      outcome.push([driverName(driver), `failed: ${(error as Error).message.split('\n')[0]}`, '', '', '', '', '', '']);
    } finally {
      await acquired.release();
    }
  }
  section.blocks.push(table(['Database', 'Phase', 'Registrations', 'Errors', 'Latency p50 / p90 / p99 ms'], rows));
  section.blocks.push(
    table(
      [
        'Database',
        'p50 during ÷ before (goal ≤ 1.10, 0 errors)',
        'Registered during outage',
        'Drain from healthy / from start command',
        'All in CRMS ≤ 15 s after start',
        'ATHS customers / CRMS rows',
        'Lost (goal 0)',
        'Duplicated (goal 0)',
      ],
      outcome,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
