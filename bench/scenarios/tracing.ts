/**
 * Tracing's cost (issue 14): registration and CRMS internal create on two clusters alike but for tracing, one with
 * tracing off and one exporting every span over OTLP/HTTP (protobuf) to a local receiver, measured in alternating
 * slices in the same run. Goal: tracing on ≥ 0.9 × tracing off.
 */
import { ObjectId } from 'bson';
import { uniqueEmail } from '@shop/service-kit/testing';
import { ATHS_ENTRY, serviceExists, startCluster, type Cluster, type Driver } from '../../tests/support/cluster.ts';
import type { HttpTarget } from '../../tests/support/http.ts';
import { OtlpReceiver } from '../../tests/support/otlp-receiver.ts';
import { PASSWORD } from '../../tests/support/system.ts';
import { procCpuMs } from '../aths-auth.ts';
import { closedLoop, fmt, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { driverName, seconds, type Scenario, type ScenarioContext } from './context.ts';

const GOAL = 0.9;

interface Operation {
  name: string;
  concurrency: number;
  /** One request against a cluster; `i` unique within a slice. */
  request(cluster: Cluster, target: HttpTarget, i: number): Promise<boolean>;
}

const OPERATIONS: Operation[] = [
  {
    name: 'Registration',
    concurrency: 20,
    async request(_cluster, target) {
      const response = await target.json('POST', '/api/auth/register', {
        email: uniqueEmail('trace-bench'),
        password: PASSWORD,
        fullName: 'Bench Customer',
        contactNumber: '0123456789',
      });
      return response.status === 201;
    },
  },
  {
    name: 'CRMS internal create',
    concurrency: 50,
    async request(cluster, target, i) {
      const response = await target.json(
        'POST',
        '/api/customers/internal/create',
        { userId: new ObjectId().toHexString(), email: `Trace.Bench.${i}@Example.com`, fullName: `Bench Customer ${i}`, contactNumber: '+1 555 0100 200' },
        { 'x-api-key': cluster.crmsKey },
      );
      return response.status === 200;
    },
  },
];

type Measured = LoadResult & { cpuMs: number };

/** CPU of both service processes (ATHS and CRMS, the database excluded), in ms. */
const servicesCpuMs = (cluster: Cluster) => procCpuMs(cluster.crms.pid!) + (cluster.aths ? procCpuMs(cluster.aths.pid!) : 0);

/** One slice; CPU counted from the end of the warm-up (both services: a registration's delivery runs in CRMS too). */
async function slice(cluster: Cluster, operation: Operation, durationMs: number, warmupMs: number): Promise<Measured> {
  const target = operation.name === 'Registration' ? cluster.athsHttp! : cluster.crmsHttp;
  let cpuFrom = 0;
  const timer = setTimeout(() => (cpuFrom = servicesCpuMs(cluster)), warmupMs);
  const result = await closedLoop({
    concurrency: operation.concurrency,
    durationMs,
    warmupMs,
    request: async (i) => {
      const ok = await operation.request(cluster, target, i);
      return { status: ok ? 200 : 500, ok };
    },
  });
  clearTimeout(timer);
  return { ...result, cpuMs: servicesCpuMs(cluster) - cpuFrom };
}

/** Throughput over all slices (they are of equal length), latency percentiles of the slices' medians, CPU per request. */
function combine(results: Measured[]) {
  const rate = results.reduce((sum, result) => sum + result.successThroughput, 0) / results.length;
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const completed = results.reduce((sum, result) => sum + result.completed, 0);
  return {
    rate,
    p50: median(results.map((result) => result.latency.p50)),
    p99: median(results.map((result) => result.latency.p99)),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    cpuPerRequest: results.reduce((sum, result) => sum + result.cpuMs, 0) / Math.max(1, completed),
  };
}

async function measureDriver(context: ScenarioContext, driver: Driver, section: Section, rows: unknown[][]): Promise<void> {
  const receiver = await OtlpReceiver.start({ decode: false });
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
  const clusters: Cluster[] = [];
  try {
    context.log(`  ${driverName(driver)}: starting a cluster with tracing off and one with tracing on`);
    const [off, on] = await Promise.all([
      startCluster({ driver, label: 'bench_trace_off' }),
      startCluster({ driver, label: 'bench_trace_on', athsEnv: otel, crmsEnv: otel }),
    ]);
    clusters.push(off, on);
    const durationMs = seconds(context, 5, 2);
    const slices = context.quick ? 1 : 6;
    for (const operation of OPERATIONS) {
      const results = { off: [] as Measured[], on: [] as Measured[] };
      for (let index = 0; index < slices; index++) {
        // The first slice of each also warms the JIT up; then they alternate, so both share the machine's drift.
        const warmupMs = index === 0 ? seconds(context, 10, 0.5) : seconds(context, 1, 0.2);
        const order: Array<'off' | 'on'> = index % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
        for (const mode of order) results[mode].push(await slice(mode === 'off' ? off : on, operation, durationMs, warmupMs));
      }
      const [offStats, onStats] = [combine(results.off), combine(results.on)];
      const ratio = onStats.rate / offStats.rate;
      const cpu = `${fmt.ms(offStats.cpuPerRequest)} / ${fmt.ms(onStats.cpuPerRequest)}`;
      context.log(`  ${driverName(driver)} ${operation.name}: off ${fmt.rate(offStats.rate)}/s, on ${fmt.rate(onStats.rate)}/s, ratio ${fmt.ratio(ratio)}; CPU ms per request ${cpu}`);
      section.summary!.push({
        goal: `${operation.name} with tracing on ≥ ${GOAL} × off (${driverName(driver)})`,
        measured: `${fmt.ratio(ratio)} (${fmt.rate(onStats.rate)} vs ${fmt.rate(offStats.rate)}/s)`,
        pass: ratio >= GOAL,
      });
      rows.push([
        driverName(driver),
        operation.name,
        operation.concurrency,
        fmt.rate(offStats.rate),
        `${fmt.ms(offStats.p50)} / ${fmt.ms(offStats.p99)}`,
        fmt.rate(onStats.rate),
        `${fmt.ms(onStats.p50)} / ${fmt.ms(onStats.p99)}`,
        `${offStats.failed} / ${onStats.failed}`,
        `**${fmt.ratio(ratio)}** ${verdict(ratio >= GOAL)}`,
        `${cpu} (${fmt.ratio(offStats.cpuPerRequest / onStats.cpuPerRequest)})`,
      ]);
    }
    const requests = [...receiver.requests.values()].reduce((sum, n) => sum + n, 0);
    section.blocks.push(`${driverName(driver)}: the receiver got ${fmt.rate(requests)} export requests, ${fmt.mb(receiver.bytes)} of spans.`);
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.stop().catch(() => undefined)));
    await receiver.close();
  }
}

export const tracingScenario: Scenario = async (context) => {
  const section: Section = { title: 'Tracing on vs off', blocks: [], summary: [] };
  if (!serviceExists(ATHS_ENTRY)) return { ...section, skipped: `not available: ${ATHS_ENTRY} does not exist` };
  const started = Date.now();
  const drivers = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  const slices = context.quick ? 1 : 6;
  section.description = `Two clusters (ATHS → CRMS, as in the other scenarios) run side by side on each database: one with tracing off, one
with \`OTEL_EXPORTER_OTLP_ENDPOINT\` set (http/protobuf, the SDK's default batching) exporting every span to a local OTLP/HTTP receiver
that only counts what it gets. Each operation runs ${slices} slice(s) of ${seconds(context, 5, 2) / 1000} s per cluster, alternating off
and on (the first slice after a ${seconds(context, 10, 0.5) / 1000} s warm-up). **Registration**: \`POST /api/auth/register\` at 20
clients (its outbox delivery to CRMS included, so its attempt spans and CRMS's spans are exported too). **CRMS internal create**:
\`POST /api/customers/internal/create\` at 50 connections, a new userId each (a request span and an insert span each). Goal: on ≥ ${GOAL} ×
off. The services' CPU per request (ATHS and CRMS processes, from /proc, after the warm-up) is shown too: on a loaded
machine it is the steadier measure of what tracing costs. The "off" figures are the same code path as "Registration and login" and "CRMS internal create" above, where tracing is off too.`;
  const rows: unknown[][] = [];
  for (const driver of drivers) await measureDriver(context, driver, section, rows);
  section.blocks.unshift(
    table(
      [
        'Database',
        'Operation',
        'Clients',
        'Off req/s',
        'Off p50 / p99 ms',
        'On req/s',
        'On p50 / p99 ms',
        'Errors off / on',
        `Ratio on/off (goal ≥ ${GOAL})`,
        'Services\' CPU ms per request off / on (off ÷ on)',
      ],
      rows,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
