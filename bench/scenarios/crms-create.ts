/**
 * CRMS internal create vs its floor: the same closed-loop load (50 connections, a new userId per request) against
 * POST /api/customers/internal/create and against bench/floor-server.ts (the bare INSERT … ON CONFLICT on the same
 * table), alternately, in the same run.
 */
import { ObjectId } from 'bson';
import { ServiceProcess } from '@shop/service-kit/testing';
import { CRMS_ENTRY, createClusterDatabase, serviceExists, startCluster, type Driver } from '../../tests/support/cluster.ts';
import { httpTarget } from '../../tests/support/http.ts';
import { closedLoop, fmt, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { driverName, seconds, type Scenario, type ScenarioContext } from './context.ts';

const CONNECTIONS = 50;

function body(i: number) {
  return {
    userId: new ObjectId().toHexString(),
    email: `Bench.Create.${i}@Example.com`,
    fullName: `Bench Customer ${i}`,
    contactNumber: '+1 555 0100 200',
  };
}

async function measure(origin: string, path: string, headers: Record<string, string>, durationMs: number, warmupMs: number) {
  const target = httpTarget(origin, CONNECTIONS);
  try {
    return await closedLoop({
      concurrency: CONNECTIONS,
      durationMs,
      warmupMs,
      request: async (i) => {
        const response = await target.pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body(i)),
        });
        await response.body.dump();
        return { status: response.statusCode, ok: response.statusCode === 200 };
      },
    });
  } finally {
    await target.close();
  }
}

export interface CrmsCreateMeasurement {
  driver: Driver;
  endpoint: LoadResult[];
  floor: LoadResult[];
}

async function measureCrmsCreate(context: ScenarioContext, driver: Driver): Promise<CrmsCreateMeasurement> {
  // Many short alternating rounds rather than a few long ones: on a shared VM the CPU's speed drifts over tens of
  // seconds, and short alternation puts the endpoint and its floor under the same drift.
  const durationMs = seconds(context, 5, 2);
  // The first round of each also warms the JIT up (CRMS has far more code to compile than the floor).
  const firstWarmupMs = seconds(context, 3, 0.5);
  const warmupMs = seconds(context, 1, 0.5);
  const rounds = context.quick ? 2 : 6;
  const floorDb = await createClusterDatabase(driver, 'bench_floor');
  // Both start at once (start-up is mostly migrations, and initdb on PGlite).
  const [clusterResult, floorResult] = await Promise.allSettled([
    startCluster({ driver, withAths: false, label: 'bench_create' }),
    ServiceProcess.start({
      entry: 'bench/floor-server.ts',
      env: { DATABASE_URL: floorDb.url, DB_POOL_SIZE: '10' },
      startTimeoutMs: 120_000,
      captureOutput: false,
    }),
  ]);
  if (clusterResult.status === 'rejected' || floorResult.status === 'rejected') {
    if (clusterResult.status === 'fulfilled') await clusterResult.value.stop();
    if (floorResult.status === 'fulfilled') await floorResult.value.stop();
    await floorDb.drop().catch(() => undefined);
    throw clusterResult.status === 'rejected' ? clusterResult.reason : (floorResult as PromiseRejectedResult).reason;
  }
  const cluster = clusterResult.value;
  const floor = floorResult.value;
  const result: CrmsCreateMeasurement = { driver, endpoint: [], floor: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      context.log(`  ${driverName(driver)} round ${round + 1}: floor`);
      const warmup = round === 0 ? firstWarmupMs : warmupMs;
      result.floor.push(await measure(floor.url, '/floor/create', {}, durationMs, warmup));
      context.log(`  ${driverName(driver)} round ${round + 1}: CRMS endpoint`);
      result.endpoint.push(
        await measure(cluster.crms.url, '/api/customers/internal/create', { 'x-api-key': cluster.crmsKey }, durationMs, warmup),
      );
    }
  } finally {
    await floor.stop().catch(() => undefined);
    await floorDb.drop().catch(() => undefined);
    await cluster.stop();
  }
  return result;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export const crmsCreateScenario: Scenario = async (context) => {
  const section: Section = {
    title: 'CRMS internal create vs the floor',
    description: `Closed loop, ${CONNECTIONS} connections, each request a new \`userId\` (the real provisioning path: an insert).
**Endpoint**: \`POST /api/customers/internal/create\` with its API key, validation, idempotent create and envelope.
**Floor**: \`bench/floor-server.ts\`, a bare Fastify route running only the same \`INSERT … ON CONFLICT (user_id) DO NOTHING RETURNING *\`
(and the fallback select) on the same table (CRMS's own migrations), same pool size (10), no validation, envelope, key or logging.
Both servers run side by side; the load alternates between them in ${context.quick ? '2' : '6'} short rounds each (ratio from the means; the
per-round ratio shows the machine's drift), each round with a warm-up that is not counted (longer before the first).
Goal: endpoint ≥ 0.8 × floor. Target (issue #2): ≥ 3,000 req/s with p99 < 30 ms on PostgreSQL at 50 connections.`,
    blocks: [],
  };
  if (!serviceExists(CRMS_ENTRY)) return { ...section, skipped: `not available yet: ${CRMS_ENTRY} does not exist` };
  const rows: unknown[][] = [];
  section.summary = [];
  const started = Date.now();
  for (const driver of context.drivers) {
    context.log(`CRMS create on ${driverName(driver)}`);
    try {
      const m = await measureCrmsCreate(context, driver);
      const endpointRps = mean(m.endpoint.map((r) => r.successThroughput));
      const floorRps = mean(m.floor.map((r) => r.successThroughput));
      const ratio = endpointRps / floorRps;
      const worstP99 = Math.max(...m.endpoint.map((r) => r.latency.p99));
      section.summary.push({
        goal: `CRMS internal create ≥ 0.8 × its floor (${driverName(driver)})`,
        measured: `${fmt.ratio(ratio)} (${fmt.rate(endpointRps)} vs ${fmt.rate(floorRps)} req/s)`,
        pass: ratio >= 0.8,
      });
      if (driver === 'postgres') {
        section.summary.push({
          goal: 'CRMS internal create ≥ 3,000 req/s with p99 < 30 ms at 50 connections (PostgreSQL)',
          measured: `${fmt.rate(endpointRps)} req/s, p99 ${fmt.ms(worstP99)} ms (floor on this machine: ${fmt.rate(floorRps)} req/s)`,
          pass: endpointRps >= 3000 && worstP99 < 30,
        });
      }
      m.floor.forEach((floor, i) => {
        const endpoint = m.endpoint[i]!;
        rows.push([
          driverName(driver),
          i + 1,
          fmt.rate(endpoint.successThroughput),
          `${fmt.ms(endpoint.latency.p50)} / ${fmt.ms(endpoint.latency.p99)}`,
          endpoint.failed,
          fmt.rate(floor.successThroughput),
          `${fmt.ms(floor.latency.p50)} / ${fmt.ms(floor.latency.p99)}`,
          floor.failed,
          fmt.ratio(endpoint.successThroughput / floor.successThroughput),
          i === m.floor.length - 1 ? `**${fmt.ratio(ratio)}** ${verdict(ratio >= 0.8)}` : '',
          i === m.floor.length - 1 && driver === 'postgres'
            ? `${verdict(endpointRps >= 3000 && Math.max(...m.endpoint.map((r) => r.latency.p99)) < 30)} (${fmt.rate(endpointRps)} req/s, p99 ${fmt.ms(Math.max(...m.endpoint.map((r) => r.latency.p99)))} ms)`
            : i === m.floor.length - 1
              ? 'n/a (target is for PostgreSQL)'
              : '',
        ]);
      });
    } catch (error) {
      rows.push([driverName(driver), '–', `failed: ${(error as Error).message.split('\n')[0]}`, '', '', '', '', '', '', '', '']);
    }
  }
  section.blocks.push(
    table(
      ['Database', 'Round', 'Endpoint req/s', 'Endpoint p50 / p99 ms', 'Endpoint errors', 'Floor req/s', 'Floor p50 / p99 ms', 'Floor errors', 'Round ratio', 'Ratio of means (goal ≥ 0.8)', 'Target ≥ 3,000 req/s, p99 < 30 ms'],
      rows,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
