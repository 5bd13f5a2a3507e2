/**
 * Registration and login vs their bound: the Argon2id work each one cannot avoid (a hash for registration, a
 * verification for login, with ATHS's own parameters: @node-rs/argon2 defaults). The measurement itself lives in
 * bench/aths-auth.ts (also runnable alone); this scenario runs it and writes its section of docs/benchmarks.md.
 */
import { runAthsAuthBench, type AthsAuthRow } from '../aths-auth.ts';
import { ATHS_ENTRY, serviceExists } from '../../tests/support/cluster.ts';
import { fmt } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { driverName, seconds, type Scenario } from './context.ts';

function authRow(row: AthsAuthRow, section: Section): unknown[] {
  const { endpoint, bound, boundName, ratio } = row;
  section.summary?.push({
    goal: `${row.operation} ≥ 0.8 × the Argon2id ${boundName} bound (${driverName(row.driver)})`,
    measured: `${fmt.ratio(ratio)} (${fmt.rate(endpoint.successThroughput)} vs ${fmt.rate(bound.successThroughput)}/s)`,
    pass: ratio >= 0.8,
  });
  const failures = Object.entries(endpoint.statuses)
    .filter(([status]) => !['200', '201'].includes(status))
    .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
    .join(', ');
  const perOp = (cpuMs: number | undefined, operations: number) => fmt.ms((cpuMs ?? Number.NaN) / Math.max(1, operations));
  return [
    driverName(row.driver),
    row.operation,
    fmt.rate(endpoint.successThroughput),
    `${fmt.ms(endpoint.latency.p50)} / ${fmt.ms(endpoint.latency.p99)}`,
    `${endpoint.failed}${failures ? ` (${failures})` : ''}`,
    `${fmt.rate(bound.successThroughput)} (${boundName})`,
    `${fmt.ms(bound.latency.p50)} / ${fmt.ms(bound.latency.p99)}`,
    `**${fmt.ratio(ratio)}** ${verdict(ratio >= 0.8)}`,
    `${perOp(endpoint.cpuMs, endpoint.operations)} / ${perOp(bound.cpuMs, bound.operations)}`,
    perOp(endpoint.generatorCpuMs, endpoint.operations),
  ];
}

export const authScenario: Scenario = async (context) => {
  const section: Section = { title: 'Registration and login vs the Argon2id bound', blocks: [], summary: [] };
  if (!serviceExists(ATHS_ENTRY)) return { ...section, skipped: `not available: ${ATHS_ENTRY} does not exist` };
  const started = Date.now();
  const drivers = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  // Many short alternating slices: the machine's speed drifts over tens of seconds, and short alternation puts the
  // endpoint and its bound under the same drift.
  const durationMs = seconds(context, 20, 2);
  const warmupMs = seconds(context, 15, 0.5);
  const slices = context.quick ? 1 : 8;
  const result = await runAthsAuthBench({ drivers, durationMs, warmupMs, rounds: slices, log: (m) => context.log(`  ${m}`) });
  section.description = `Measured with \`runAthsAuthBench\` of \`bench/aths-auth.ts\`: ATHS alone as a child process (rate limits off),
closed loop at ${result.concurrency} concurrent clients, ${durationMs / 1000} s per operation split into ${slices} slice(s) that alternate with
the **bound**: the Argon2id work alone (\`hash()\` for registration, \`verify()\` for login, @node-rs/argon2 defaults as ATHS uses them:
m = 19 MiB, t = 2, p = 1) at the same concurrency, in a separate process with the same libuv thread pool (${result.threadpoolSize} threads).
Before its first slice the endpoint is warmed up for ${warmupMs / 1000} s (ATHS's JIT-compiled code reaches steady state after ~10 s of
this load), each later slice for 1 s. **Registration**: \`POST /api/auth/register\`, a new Customer each time. **Login**:
\`POST /api/auth/login\` over the accounts just made. Goal: endpoint ≥ 0.8 × bound. CPU is counted after the warm-up; the load generator
runs on the same machine and its CPU is shown too (the bound pays no such cost).`;
  const rows = result.rows.map((row) => authRow(row, section));
  for (const skipped of result.skipped) rows.push(['–', 'skipped', skipped, '', '', '', '', '', '', '']);
  section.blocks.push(
    table(
      [
        'Database',
        'Operation',
        'Endpoint req/s',
        'Endpoint p50 / p99 ms',
        'Errors',
        'Bound ops/s',
        'Bound p50 / p99 ms',
        'Ratio (goal ≥ 0.8)',
        'CPU ms: server per request / bound per op',
        'Load generator CPU ms per request',
      ],
      rows,
    ),
  );
  section.durationMs = Date.now() - started;
  return section;
};
