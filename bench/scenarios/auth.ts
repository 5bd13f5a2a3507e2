/**
 * Registration and login vs their bound: the Argon2id work each one cannot avoid (a hash for registration, a
 * verification for login, with ATHS's own parameters: @node-rs/argon2 defaults), measured at the same concurrency
 * in the same run. Registration runs against the whole system (ATHS wired to CRMS, provisioning included).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hash, verify } from '@node-rs/argon2';
import { REPO_ROOT } from '@shop/service-kit/testing';
import { ATHS_ENTRY, CRMS_ENTRY, registrationBody, runTag, serviceExists, startCluster, type Driver } from '../lib/cluster.ts';
import { closedLoop, fmt, type LoadResult } from '../lib/load.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { driverName, seconds, type Scenario, type ScenarioContext } from './context.ts';

const CONCURRENCY = 8;
const PASSWORD = 'BenchPassw0rd';

async function hashBound(durationMs: number, warmupMs: number): Promise<LoadResult> {
  let n = 0;
  return closedLoop({
    concurrency: CONCURRENCY,
    durationMs,
    warmupMs,
    request: async () => {
      await hash(`${PASSWORD}${n++}`);
      return { status: 200, ok: true };
    },
  });
}

async function verifyBound(durationMs: number, warmupMs: number): Promise<LoadResult> {
  const stored = await hash(PASSWORD);
  return closedLoop({
    concurrency: CONCURRENCY,
    durationMs,
    warmupMs,
    request: async () => {
      const ok = await verify(stored, PASSWORD);
      return { status: ok ? 200 : 401, ok };
    },
  });
}

export interface AuthMeasurement {
  driver: Driver;
  register: LoadResult;
  hash: LoadResult;
  login: LoadResult;
  verify: LoadResult;
}

export async function measureAuth(context: ScenarioContext, driver: Driver): Promise<AuthMeasurement> {
  const durationMs = seconds(context, 20, 2.5);
  const warmupMs = seconds(context, 3, 0.5);
  const cluster = await startCluster({ driver, label: 'bench_auth' });
  try {
    const http = cluster.athsHttp!;
    const tag = runTag('auth');
    context.log(`  ${driverName(driver)}: Argon2id hash bound`);
    const hashResult = await hashBound(durationMs, warmupMs);
    context.log(`  ${driverName(driver)}: registration`);
    const register = await closedLoop({
      concurrency: CONCURRENCY,
      durationMs,
      warmupMs,
      request: async (i) => {
        const response = await http.json('POST', '/api/auth/register', registrationBody(tag, i));
        return { status: response.status, ok: response.status === 201 };
      },
    });
    // A small set of accounts to log in to, round robin.
    const accounts = Array.from({ length: 32 }, (_, i) => registrationBody(`${tag}login`, i));
    for (const account of accounts) await http.json('POST', '/api/auth/register', account);
    context.log(`  ${driverName(driver)}: Argon2id verify bound`);
    const verifyResult = await verifyBound(durationMs, warmupMs);
    context.log(`  ${driverName(driver)}: login`);
    const login = await closedLoop({
      concurrency: CONCURRENCY,
      durationMs,
      warmupMs,
      request: async (i) => {
        const account = accounts[i % accounts.length]!;
        const response = await http.json('POST', '/api/auth/login', { email: account.email, password: account.password });
        return { status: response.status, ok: response.status === 200 };
      },
    });
    return { driver, register, hash: hashResult, login, verify: verifyResult };
  } finally {
    await cluster.stop();
  }
}

/** The shape of bench/aths-auth.ts's result that this scenario reads (that module is another helper's, loaded if present). */
interface SharedAuthRow {
  driver: Driver;
  operation: string;
  endpoint: LoadResult;
  bound: LoadResult;
  boundName: string;
  ratio: number;
}
type SharedAuthBench = (options: {
  drivers?: Driver[];
  durationMs?: number;
  warmupMs?: number;
  rounds?: number;
  log?: (message: string) => void;
}) => Promise<{ rows: SharedAuthRow[]; skipped: string[]; concurrency?: number; threadpoolSize?: number }>;

const SHARED_AUTH_BENCH = 'bench/aths-auth.ts';

async function loadSharedAuthBench(): Promise<SharedAuthBench | undefined> {
  const path = join(REPO_ROOT, SHARED_AUTH_BENCH);
  if (!existsSync(path)) return undefined;
  const module = (await import(pathToFileURL(path).href)) as { runAthsAuthBench?: SharedAuthBench };
  return module.runAthsAuthBench;
}

function authRow(driver: Driver, name: string, endpoint: LoadResult, bound: LoadResult, boundName: string, section?: Section): unknown[] {
  const ratio = endpoint.successThroughput / bound.successThroughput;
  section?.summary?.push({
    goal: `${name} ≥ 0.8 × the Argon2id ${boundName} bound (${driverName(driver)})`,
    measured: `${fmt.ratio(ratio)} (${fmt.rate(endpoint.successThroughput)} vs ${fmt.rate(bound.successThroughput)}/s)`,
    pass: ratio >= 0.8,
  });
  const failures = Object.entries(endpoint.statuses)
    .filter(([status]) => !['200', '201'].includes(status))
    .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
    .join(', ');
  return [
    driverName(driver),
    name,
    fmt.rate(endpoint.successThroughput),
    `${fmt.ms(endpoint.latency.p50)} / ${fmt.ms(endpoint.latency.p99)}`,
    `${endpoint.failed}${failures ? ` (${failures})` : ''}`,
    `${fmt.rate(bound.successThroughput)} (${boundName})`,
    `${fmt.ms(bound.latency.p50)} / ${fmt.ms(bound.latency.p99)}`,
    `**${fmt.ratio(ratio)}** ${verdict(ratio >= 0.8)}`,
  ];
}

export const authScenario: Scenario = async (context) => {
  const section: Section = {
    title: 'Registration and login vs the Argon2id bound',
    blocks: [],
    summary: [],
  };
  if (!serviceExists(ATHS_ENTRY) || !serviceExists(CRMS_ENTRY)) {
    return { ...section, skipped: `not available yet: ${!serviceExists(ATHS_ENTRY) ? ATHS_ENTRY : CRMS_ENTRY} does not exist` };
  }
  const started = Date.now();
  const rows: unknown[][] = [];
  const drivers = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  const shared = await loadSharedAuthBench().catch(() => undefined);
  if (shared) {
    // Many short alternating slices: the machine's speed drifts over tens of seconds, and short alternation puts the
    // endpoint and its bound under the same drift.
    const durationMs = seconds(context, 20, 2);
    const slices = context.quick ? 1 : 8;
    const result = await shared({ drivers, durationMs, warmupMs: seconds(context, 2, 0.5), rounds: slices, log: (m) => context.log(`  ${m}`) });
    section.description = `Measured with \`runAthsAuthBench\` of \`${SHARED_AUTH_BENCH}\`: ATHS alone as a child process (rate limits off),
closed loop at ${result.concurrency ?? 20} concurrent clients, ${durationMs / 1000} s per operation split into ${slices} slice(s) that alternate with
the **bound**: the Argon2id work alone (\`hash()\` for registration, \`verify()\` for login, @node-rs/argon2 defaults as ATHS uses them:
m = 19 MiB, t = 2, p = 1) at the same concurrency, in a separate process with the same libuv thread pool (${result.threadpoolSize ?? 4} threads).
**Registration**: \`POST /api/auth/register\`, a new Customer each time. **Login**: \`POST /api/auth/login\` over the accounts just made. Goal: endpoint ≥ 0.8 × bound.`;
    for (const row of result.rows) rows.push(authRow(row.driver, row.operation, row.endpoint, row.bound, row.boundName, section));
    for (const skipped of result.skipped) rows.push(['–', 'skipped', skipped, '', '', '', '', '']);
  } else {
    section.description = `Closed loop, ${CONCURRENCY} concurrent clients. **Registration**: \`POST /api/auth/register\` (a new Customer each time; ATHS wired to CRMS,
so the outbox write and the provisioning call to CRMS are part of the load). **Login**: \`POST /api/auth/login\` round robin over 32 accounts.
**Bound**: the Argon2id work alone, in the bench process at the same concurrency (\`hash()\` for registration, \`verify()\` for login,
@node-rs/argon2 defaults as ATHS uses: m = 19 MiB, t = 2, p = 1), measured just before the endpoint in the same run. Goal: endpoint ≥ 0.8 × bound.`;
    for (const driver of drivers) {
      context.log(`registration/login on ${driverName(driver)}`);
      try {
        const m = await measureAuth(context, driver);
        rows.push(authRow(driver, 'Registration', m.register, m.hash, 'hash', section));
        rows.push(authRow(driver, 'Login', m.login, m.verify, 'verify', section));
      } catch (error) {
        rows.push([driverName(driver), 'failed', (error as Error).message.split('\n')[0], '', '', '', '', '']);
      }
    }
  }
  section.blocks.push(
    table(['Database', 'Operation', 'Endpoint req/s', 'Endpoint p50 / p99 ms', 'Errors', 'Bound ops/s', 'Bound p50 / p99 ms', 'Ratio (goal ≥ 0.8)'], rows),
  );
  section.durationMs = Date.now() - started;
  return section;
};
