/**
 * ATHS registration and login vs their bound, the Argon2id work alone at the same concurrency in the same run
 * (docs/benchmarks.md, "Registration and login vs the Argon2id bound").
 *   npx tsx bench/aths-auth.ts [--drivers=postgres,pglite] [--duration=10] [--warmup=15] [--concurrency=20] [--threadpool=4] [--rounds=5]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hash, verify } from '@node-rs/argon2';
import pg from 'pg';
import { createTestDatabase, REPO_ROOT, ServiceProcess, type TestDatabase } from '@shop/service-kit/testing';
import { ATHS_ENTRY } from '../tests/support/cluster.ts';
import { httpTarget } from '../tests/support/http.ts';
import { registrationBody } from '../tests/support/registrations.ts';
import { closedLoop, fmt, summarise, type ClosedLoopOptions, type LoadResult } from './lib/load.ts';

export type AthsBenchDriver = 'postgres' | 'pglite';

export interface AthsAuthBenchOptions {
  drivers?: AthsBenchDriver[];
  durationMs?: number;
  warmupMs?: number;
  concurrency?: number;
  /** UV_THREADPOOL_SIZE for ATHS and for the bound (default: the environment's, else libuv's 4). */
  threadpoolSize?: number;
  /**
   * The measured time is split into this many slices, alternating bound and endpoint (default 5), so that load from
   * other processes on a shared machine weighs on both alike.
   */
  rounds?: number;
  log?: (message: string) => void;
}

/**
 * A load result plus the CPU it cost after the warm-up: of the bound process, or of the server side (ATHS and its
 * PostgreSQL backends); and of this process: for the endpoint, the load generator, which shares the machine.
 */
export type Measured = LoadResult & { cpuMs: number; operations: number; generatorCpuMs: number };

export interface AthsAuthRow {
  driver: AthsBenchDriver;
  operation: 'Registration' | 'Login';
  endpoint: Measured;
  bound: Measured;
  boundName: 'hash' | 'verify';
  /** Endpoint throughput / bound throughput (the goal: ≥ 0.8). */
  ratio: number;
  /**
   * Bound CPU per operation / server-side CPU per request: what the throughput ratio would be on a machine given to
   * this benchmark alone (CPU time barely depends on what else runs; throughput on a shared machine does).
   */
  cpuRatio: number;
}

export interface AthsAuthBenchResult {
  rows: AthsAuthRow[];
  skipped: string[];
  threadpoolSize: number;
  concurrency: number;
  durationMs: number;
  markdown: string;
}

/** The bound hashes a password like the registrations' (same length: Argon2id's cost barely depends on it). */
const PASSWORD = registrationBody('bound', 0).password;
const SELF = fileURLToPath(import.meta.url);

/**
 * The shared closed loop (bench/lib/load.ts: counts what completes inside the measured window, after a warm-up that
 * fills the pipeline) plus the CPU it cost, counted from the end of the warm-up: of whatever serves the requests
 * (`cpu`) and of this process.
 */
async function measuredLoop(options: ClosedLoopOptions & { warmupMs: number; cpu: () => Promise<number> | number }): Promise<Measured> {
  let operations = 0;
  let measuring = false;
  let cpuFrom = 0;
  let generatorFrom = 0;
  const startMeasuring = (async () => {
    await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
    generatorFrom = processCpuMs();
    cpuFrom = await options.cpu();
    measuring = true;
  })();
  const result = await closedLoop({
    ...options,
    request: async (i) => {
      try {
        return await options.request(i);
      } finally {
        if (measuring) operations += 1;
      }
    },
  });
  await startMeasuring;
  const cpuMs = (await options.cpu()) - cpuFrom;
  return { ...result, cpuMs, operations, generatorCpuMs: processCpuMs() - generatorFrom };
}

const processCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** user + system CPU of a process from /proc (Linux), in ms. */
export function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** CPU of ATHS plus its PostgreSQL backends (found by database name; new backends count from zero). */
function serverCpu(athsPid: number, postgres?: { client: pg.Client; database: string }) {
  const seen = new Map<number, number>();
  let base = 0;
  return async () => {
    let total = procCpuMs(athsPid);
    if (postgres) {
      const { rows } = await postgres.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [postgres.database]);
      for (const { pid } of rows) {
        const now = procCpuMs(pid);
        if (!seen.has(pid)) seen.set(pid, 0);
        base += now - seen.get(pid)!;
        seen.set(pid, now);
      }
      total += base;
    }
    return total;
  };
}

/** The Argon2id bound in this process (used by the `--bound` child). */
async function argonBound(kind: 'hash' | 'verify', concurrency: number, durationMs: number, warmupMs: number): Promise<Measured> {
  const stored = await hash(PASSWORD);
  let n = 0;
  return measuredLoop({
    concurrency,
    durationMs,
    warmupMs,
    cpu: processCpuMs,
    request: async () => {
      if (kind === 'hash') await hash(`${PASSWORD}${n++}`);
      else if (!(await verify(stored, PASSWORD))) return { status: 401, ok: false };
      return { status: 200, ok: true };
    },
  });
}

/** Runs the bound in a fresh process with the given thread-pool size (the pool size is fixed at a process's start). */
async function boundInChild(kind: 'hash' | 'verify', concurrency: number, durationMs: number, warmupMs: number, threadpoolSize: number): Promise<Measured> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SELF, '--bound', kind, String(concurrency), String(durationMs), String(warmupMs)],
    { cwd: REPO_ROOT, env: { ...process.env, UV_THREADPOOL_SIZE: String(threadpoolSize) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bound process exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as Measured;
}

/** One result from several slices: throughput over their total time, percentiles over all samples. */
function merge(results: Measured[]): Measured {
  const total = (pick: (result: Measured) => number) => results.reduce((sum, result) => sum + pick(result), 0);
  return {
    ...summarise(
      results.flatMap((result) => result.samples),
      total((result) => result.durationMs),
    ),
    cpuMs: total((result) => result.cpuMs),
    operations: total((result) => result.operations),
    generatorCpuMs: total((result) => result.generatorCpuMs),
  };
}

/** Alternates bound and endpoint slices; the endpoint gets its warm-up once, each bound process a short one. */
async function interleaved(
  rounds: number,
  sliceMs: number,
  warmupMs: number,
  bound: (durationMs: number) => Promise<Measured>,
  endpoint: (durationMs: number, warmupMs: number) => Promise<Measured>,
  sliceWarmupMs = 1_000,
): Promise<{ bound: Measured; endpoint: Measured }> {
  const bounds: Measured[] = [];
  const endpoints: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    bounds.push(await bound(sliceMs));
    endpoints.push(await endpoint(sliceMs, round === 0 ? Math.max(warmupMs, sliceWarmupMs) : sliceWarmupMs));
  }
  return { bound: merge(bounds), endpoint: merge(endpoints) };
}

const cpuPerOp = (result: Measured) => result.cpuMs / Math.max(1, result.operations);
const generatorCpuPerOp = (result: Measured) => result.generatorCpuMs / Math.max(1, result.operations);

async function postgresReachable(): Promise<boolean> {
  process.env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  try {
    const database = await createTestDatabase('postgres', 'bench_aths_probe');
    await database.drop();
    return true;
  } catch {
    return false;
  }
}

export async function runAthsAuthBench(options: AthsAuthBenchOptions = {}): Promise<AthsAuthBenchResult> {
  const concurrency = options.concurrency ?? 20;
  const durationMs = options.durationMs ?? 10_000;
  // ATHS's JavaScript (and PGlite's WebAssembly) reach steady state only after ~10 s of this load: measured, the server's
  // CPU per registration falls from ~9.9 to ~8.3 ms over the first 12 s and stays there. A service in production is
  // past that point, so the endpoint is measured after it; the Argon2id bound (native code) needs no such warm-up.
  const warmupMs = options.warmupMs ?? 15_000;
  const threadpoolSize = options.threadpoolSize ?? Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const rounds = Math.max(1, options.rounds ?? 5);
  const sliceMs = durationMs / rounds;
  const log = options.log ?? ((message: string) => process.stderr.write(`[aths-auth] ${message}\n`));
  const rows: AthsAuthRow[] = [];
  const skipped: string[] = [];
  const wanted = options.drivers ?? ['postgres', 'pglite'];

  for (const driver of wanted) {
    if (driver === 'postgres' && !(await postgresReachable())) {
      skipped.push('postgres (no PostgreSQL server reachable at TEST_DATABASE_URL)');
      continue;
    }
    let database: TestDatabase | undefined;
    let aths: ServiceProcess | undefined;
    const target = { close: async () => undefined } as { close(): Promise<void> };
    try {
      database = driver === 'postgres' ? await createTestDatabase('postgres', 'bench_aths') : { url: 'memory://', drop: async () => undefined };
      log(`${driver}: starting ATHS (UV_THREADPOOL_SIZE=${threadpoolSize})`);
      aths = await ServiceProcess.start({
        entry: ATHS_ENTRY,
        env: {
          DATABASE_URL: database.url,
          LOG_LEVEL: 'warn',
          NODE_ENV: 'test',
          RATE_LIMIT_ENABLED: 'false',
          SERVICE_API_KEYS: 'bench-key-0123456789abcdef0123456789',
          UV_THREADPOOL_SIZE: String(threadpoolSize),
          SMTP_URL: '',
        },
        startTimeoutMs: 60_000,
      });
      const http = httpTarget(aths.url, concurrency + 4);
      target.close = () => http.close();
      const tag = `${driver}${Date.now().toString(36)}`;
      let postgres: { client: pg.Client; database: string } | undefined;
      if (driver === 'postgres') {
        const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await client.connect();
        postgres = { client, database: new URL(database.url).pathname.slice(1) };
        const previous = target.close.bind(target);
        target.close = async () => {
          await previous();
          await client.end();
        };
      }
      const cpu = serverCpu(aths.pid!, postgres);

      let sequence = 0;
      log(`${driver}: registration vs Argon2id hash(), ${rounds} alternating slices`);
      const registration = await interleaved(
        rounds,
        sliceMs,
        warmupMs,
        (ms) => boundInChild('hash', concurrency, ms, 1_000, threadpoolSize),
        (ms, warm) =>
          measuredLoop({
            concurrency,
            durationMs: ms,
            warmupMs: warm,
            cpu,
            request: async () => {
              const response = await http.json('POST', '/api/auth/register', registrationBody(tag, sequence++));
              return { status: response.status, ok: response.status === 201 };
            },
          }),
      );
      rows.push({
        driver,
        operation: 'Registration',
        endpoint: registration.endpoint,
        bound: registration.bound,
        boundName: 'hash',
        ratio: registration.endpoint.successThroughput / registration.bound.successThroughput,
        cpuRatio: cpuPerOp(registration.bound) / cpuPerOp(registration.endpoint),
      });

      log(`${driver}: login vs Argon2id verify(), ${rounds} alternating slices`);
      const accounts = Math.min(64, sequence);
      const login = await interleaved(
        rounds,
        sliceMs,
        warmupMs,
        (ms) => boundInChild('verify', concurrency, ms, 1_000, threadpoolSize),
        (ms, warm) =>
          measuredLoop({
            concurrency,
            durationMs: ms,
            warmupMs: warm,
            cpu,
            request: async (i) => {
              const { email, password } = registrationBody(tag, i % accounts);
              const response = await http.json('POST', '/api/auth/login', { email, password });
              return { status: response.status, ok: response.status === 200 };
            },
          }),
      );
      rows.push({
        driver,
        operation: 'Login',
        endpoint: login.endpoint,
        bound: login.bound,
        boundName: 'verify',
        ratio: login.endpoint.successThroughput / login.bound.successThroughput,
        cpuRatio: cpuPerOp(login.bound) / cpuPerOp(login.endpoint),
      });
    } finally {
      await target.close().catch(() => undefined);
      await aths?.stop().catch(() => undefined);
      await database?.drop().catch(() => undefined);
    }
  }

  const header =
    '| Database | Operation | Endpoint req/s | Endpoint p50 / p99 ms | Errors | Argon2id-only ops/s | Argon2id-only p50 / p99 ms | Ratio (goal ≥ 0.8) | CPU ms: server per request / Argon2id per op | CPU ratio | Load generator CPU ms per request |';
  const lines = [
    `${concurrency} concurrent clients, ${durationMs / 1000} s measured per operation (${rounds} slices alternating with the bound) ` +
      `after ${warmupMs / 1000} s warm-up (1 s before each later slice), UV_THREADPOOL_SIZE=${threadpoolSize}, ` +
      `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'CPU'}.`,
    '',
    header,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.driver === 'postgres' ? 'PostgreSQL' : 'PGlite'} | ${row.operation} | ${fmt.rate(row.endpoint.successThroughput)} | ` +
        `${fmt.ms(row.endpoint.latency.p50)} / ${fmt.ms(row.endpoint.latency.p99)} | ${row.endpoint.failed} | ` +
        `${fmt.rate(row.bound.successThroughput)} (${row.boundName}) | ${fmt.ms(row.bound.latency.p50)} / ${fmt.ms(row.bound.latency.p99)} | ` +
        `**${fmt.ratio(row.ratio)}** ${row.ratio >= 0.8 ? '✅' : '❌'} | ${fmt.ms(cpuPerOp(row.endpoint))} / ${fmt.ms(cpuPerOp(row.bound))} | ${fmt.ratio(row.cpuRatio)} | ${fmt.ms(generatorCpuPerOp(row.endpoint))} |`,
    ),
    ...skipped.map((reason) => `\nNot measured: ${reason}.`),
  ];
  return { rows, skipped, threadpoolSize, concurrency, durationMs, markdown: lines.join('\n') };
}

function flag(argv: string[], name: string): string | undefined {
  const found = argv.find((arg) => arg.startsWith(`--${name}=`));
  return found?.slice(name.length + 3);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--bound') {
    const [, kind, concurrency, duration, warmup] = argv;
    const result = await argonBound(kind as 'hash' | 'verify', Number(concurrency), Number(duration), Number(warmup));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const result = await runAthsAuthBench({
      drivers: flag(argv, 'drivers')?.split(',') as AthsBenchDriver[] | undefined,
      durationMs: flag(argv, 'duration') ? Number(flag(argv, 'duration')) * 1000 : undefined,
      warmupMs: flag(argv, 'warmup') ? Number(flag(argv, 'warmup')) * 1000 : undefined,
      concurrency: flag(argv, 'concurrency') ? Number(flag(argv, 'concurrency')) : undefined,
      threadpoolSize: flag(argv, 'threadpool') ? Number(flag(argv, 'threadpool')) : undefined,
      rounds: flag(argv, 'rounds') ? Number(flag(argv, 'rounds')) : undefined,
    });
    console.log(result.markdown);
  }
}
