/**
 * Sync lag: how long after ATHS's 201 the customer's CRMS record exists, at fixed registration rates (open loop).
 * The lag of each registration is the CRMS record's createdAt minus the time the bench received the 201 (same
 * machine, same clock); a record that already existed when the 201 arrived counts as 0.
 */
import { clusterMissing, queryDatabase, type Cluster } from '../../tests/support/cluster.ts';
import { waitForDelivery } from '../../tests/support/consistency.ts';
import { registrationBody, runTag } from '../../tests/support/registrations.ts';
import { fmt, latencyStats, openLoop, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { acquireCluster, driverName, seconds, type Scenario } from './context.ts';
import { warmUpRegistrations } from './outage.ts';

// Wall clock, like the database's now(): performance.now() can drift from it over minutes.
const now = () => Date.now();

export interface LagRun {
  rate: number;
  load: LoadResult;
  lags: number[];
  /** Records that already existed when the 201 arrived. */
  beforeResponse: number;
  missing: number;
  registered: number;
}

/** createdAt (epoch ms) of the CRMS record of each user id that has one. */
async function createdAtOf(cluster: Cluster, userIds: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (cluster.driver === 'postgres') {
    const rows = await queryDatabase<{ user_id: string; created_at: Date }>(
      cluster.crmsDb,
      'SELECT user_id, created_at FROM customers WHERE user_id = ANY($1)',
      [userIds],
    );
    for (const row of rows) out.set(row.user_id, new Date(row.created_at).getTime());
    return out;
  }
  let next = 0;
  const worker = async () => {
    while (next < userIds.length) {
      const userId = userIds[next++]!;
      const response = await cluster.crmsHttp.json<{ data?: { createdAt?: string } }>(
        'GET',
        `/api/customers/internal/user/${userId}`,
        undefined,
        { 'x-api-key': cluster.crmsKey },
      );
      if (response.status === 200 && response.body?.data?.createdAt) out.set(userId, Date.parse(response.body.data.createdAt));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

async function measureLag(cluster: Cluster, rate: number, durationMs: number): Promise<LagRun> {
  const tag = runTag(`lag${rate}`);
  const received = new Map<string, number>();
  const load = await openLoop({
    rate,
    durationMs,
    request: async (i) => {
      const response = await cluster.athsHttp!.json<{ data?: { user?: { _id?: string } } }>('POST', '/api/auth/register', registrationBody(tag, i));
      const at = now();
      const userId = response.body?.data?.user?._id;
      if (response.status === 201 && userId) received.set(userId, at);
      return { status: response.status, ok: response.status === 201 };
    },
  });
  const userIds = [...received.keys()];
  const delivery = await waitForDelivery(cluster, userIds, 30_000, 200);
  const created = await createdAtOf(cluster, userIds);
  const lags: number[] = [];
  let beforeResponse = 0;
  for (const [userId, at] of received) {
    const createdAt = created.get(userId);
    if (createdAt === undefined) continue;
    const lag = createdAt - at;
    if (lag <= 0) beforeResponse += 1;
    lags.push(Math.max(0, lag));
  }
  return { rate, load, lags, beforeResponse, missing: delivery.missing, registered: userIds.length };
}

export const syncLagScenario: Scenario = async (context) => {
  const rates = [10, 50, 100];
  const section: Section = {
    title: 'Sync lag (201 → record in CRMS)',
    description: `Open loop: registrations started at a fixed rate (${rates.join(', ')} per second, ${context.quick ? 2.5 : 20} s each), whatever the answers do.
For each 201, the lag is the CRMS record's \`createdAt\` (set by CRMS's database, millisecond precision) minus the moment the bench received the 201
(same machine, same clock); a record already there when the 201 arrived counts as 0.
Targets (issue #2): p50 < 10 ms and p99 < 50 ms at 50/s on PostgreSQL.`,
    blocks: [],
    summary: [],
  };
  const missing = clusterMissing();
  if (missing) return { ...section, skipped: missing };
  const started = Date.now();
  const rows: unknown[][] = [];
  const drivers = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  const durationMs = seconds(context, 20, 2.5);
  for (const driver of drivers) {
    context.log(`sync lag on ${driverName(driver)}`);
    const acquired = await acquireCluster(context, { driver, label: 'bench_lag' });
    const cluster = acquired.cluster;
    try {
      await warmUpRegistrations(cluster);
      for (const rate of rates) {
        context.log(`  ${rate}/s`);
        const run = await measureLag(cluster, rate, durationMs);
        const lag = latencyStats(run.lags);
        const target =
          rate === 50 && driver === 'postgres' ? `${verdict(lag.p50 < 10 && lag.p99 < 50)} (p50 < 10, p99 < 50)` : '–';
        if (rate === 50 && driver === 'postgres') {
          section.summary!.push({
            goal: 'Sync lag p50 < 10 ms and p99 < 50 ms at 50 registrations/s (PostgreSQL)',
            measured: `p50 ${fmt.ms(lag.p50)} ms, p99 ${fmt.ms(lag.p99)} ms (registration p50 ${fmt.ms(run.load.latency.p50)} ms at that rate)`,
            pass: lag.p50 < 10 && lag.p99 < 50,
          });
        }
        if (run.missing > 0) {
          section.summary!.push({ goal: `Every registration reaches CRMS (${driverName(driver)}, ${rate}/s)`, measured: `${run.missing} missing after 30 s`, pass: false });
        }
        rows.push([
          driverName(driver),
          `${rate}/s`,
          `${run.registered} / ${run.load.completed}`,
          `${fmt.ms(run.load.latency.p50)} / ${fmt.ms(run.load.latency.p99)}`,
          `${fmt.ms(lag.p50)} / ${fmt.ms(lag.p90)} / ${fmt.ms(lag.p99)} / ${fmt.ms(lag.max)}`,
          `${run.beforeResponse} (${fmt.pct(run.beforeResponse / Math.max(1, run.lags.length))})`,
          run.missing,
          target,
        ]);
      }
    } catch (error) {
      rows.push([driverName(driver), 'failed', (error as Error).message.split('\n')[0], '', '', '', '', '']);
    } finally {
      await acquired.release();
    }
  }
  section.blocks.push(
    table(
      ['Database', 'Rate', '201s / requests', 'Registration p50 / p99 ms', 'Lag p50 / p90 / p99 / max ms', 'Already there at the 201', 'Never arrived (30 s)', 'Target at 50/s'],
      rows,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
