/**
 * ATHS registration and login throughput and latency at 20 concurrent clients, next to their bound: the Argon2id
 * work each request cannot avoid (`hash()` for registration, `verify()` for login, @node-rs/argon2 defaults as ATHS
 * uses them), measured at the same concurrency, in the same run, in a separate process with the same
 * UV_THREADPOOL_SIZE as ATHS. ATHS runs as a child process (`node --import tsx services/aths/src/main.ts`,
 * LOG_LEVEL=warn, RATE_LIMIT_ENABLED=false) on a throw-away PostgreSQL database (created and dropped here) and on
 * PGlite memory://.
 *
 *   npx tsx bench/aths-auth.ts [--drivers=postgres,pglite] [--duration=10] [--warmup=2] [--concurrency=20] [--threadpool=4]
 *
 * PostgreSQL: TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hash, verify } from '@node-rs/argon2';
import { createTestDatabase, REPO_ROOT, ServiceProcess, type TestDatabase } from '@shop/service-kit/testing';
import { closedLoop, fmt, httpTarget, type LoadResult } from './lib/load.ts';

export type AthsBenchDriver = 'postgres' | 'pglite';

export interface AthsAuthBenchOptions {
  drivers?: AthsBenchDriver[];
  durationMs?: number;
  warmupMs?: number;
  concurrency?: number;
  /** UV_THREADPOOL_SIZE for ATHS and for the bound (default: the environment's, else libuv's 4). */
  threadpoolSize?: number;
  log?: (message: string) => void;
}

export interface AthsAuthRow {
  driver: AthsBenchDriver;
  operation: 'Registration' | 'Login';
  endpoint: LoadResult;
  bound: LoadResult;
  boundName: 'hash' | 'verify';
  ratio: number;
}

export interface AthsAuthBenchResult {
  rows: AthsAuthRow[];
  skipped: string[];
  threadpoolSize: number;
  concurrency: number;
  durationMs: number;
  markdown: string;
}

const PASSWORD = 'BenchPassw0rd';
const SELF = fileURLToPath(import.meta.url);

/** The Argon2id bound in this process (used by the `--bound` child). */
async function argonBound(kind: 'hash' | 'verify', concurrency: number, durationMs: number, warmupMs: number): Promise<LoadResult> {
  const stored = await hash(PASSWORD);
  let n = 0;
  return closedLoop({
    concurrency,
    durationMs,
    warmupMs,
    request: async () => {
      if (kind === 'hash') await hash(`${PASSWORD}${n++}`);
      else if (!(await verify(stored, PASSWORD))) return { status: 401, ok: false };
      return { status: 200, ok: true };
    },
  });
}

/** Runs the bound in a fresh process with the given thread-pool size (the pool size is fixed at a process's start). */
async function boundInChild(kind: 'hash' | 'verify', concurrency: number, durationMs: number, warmupMs: number, threadpoolSize: number): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SELF, '--bound', kind, String(concurrency), String(durationMs), String(warmupMs)],
    { cwd: REPO_ROOT, env: { ...process.env, UV_THREADPOOL_SIZE: String(threadpoolSize) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bound process exited with ${code}`);
  const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
  return result;
}

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

function registrationBody(tag: string, i: number) {
  return {
    email: `bench.${tag}.${i}@example.com`,
    password: PASSWORD,
    fullName: `Bench User ${i}`,
    contactNumber: `+1 555 ${String(1_000_000 + i).slice(-7)}`,
  };
}

export async function runAthsAuthBench(options: AthsAuthBenchOptions = {}): Promise<AthsAuthBenchResult> {
  const concurrency = options.concurrency ?? 20;
  const durationMs = options.durationMs ?? 10_000;
  const warmupMs = options.warmupMs ?? 2_000;
  const threadpoolSize = options.threadpoolSize ?? Number(process.env.UV_THREADPOOL_SIZE ?? 4);
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
        entry: 'services/aths/src/main.ts',
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

      log(`${driver}: Argon2id hash() bound`);
      const hashBound = await boundInChild('hash', concurrency, durationMs, warmupMs, threadpoolSize);
      log(`${driver}: registration`);
      const register = await closedLoop({
        concurrency,
        durationMs,
        warmupMs,
        request: async (i) => {
          const response = await http.json('POST', '/api/auth/register', registrationBody(tag, i));
          return { status: response.status, ok: response.status === 201 };
        },
      });
      rows.push({ driver, operation: 'Registration', endpoint: register, bound: hashBound, boundName: 'hash', ratio: register.successThroughput / hashBound.successThroughput });

      log(`${driver}: Argon2id verify() bound`);
      const verifyBound = await boundInChild('verify', concurrency, durationMs, warmupMs, threadpoolSize);
      log(`${driver}: login`);
      const accounts = 64;
      const login = await closedLoop({
        concurrency,
        durationMs,
        warmupMs,
        request: async (i) => {
          const response = await http.json('POST', '/api/auth/login', { email: registrationBody(tag, i % accounts).email, password: PASSWORD });
          return { status: response.status, ok: response.status === 200 };
        },
      });
      rows.push({ driver, operation: 'Login', endpoint: login, bound: verifyBound, boundName: 'verify', ratio: login.successThroughput / verifyBound.successThroughput });
    } finally {
      await target.close().catch(() => undefined);
      await aths?.stop().catch(() => undefined);
      await database?.drop().catch(() => undefined);
    }
  }

  const header = '| Database | Operation | Endpoint req/s | Endpoint p50 / p99 ms | Errors | Argon2id-only ops/s | Argon2id-only p50 / p99 ms | Ratio (goal ≥ 0.8) |';
  const lines = [
    `${concurrency} concurrent clients, ${durationMs / 1000} s measured after ${warmupMs / 1000} s warm-up, UV_THREADPOOL_SIZE=${threadpoolSize}, ` +
      `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'CPU'}.`,
    '',
    header,
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.driver === 'postgres' ? 'PostgreSQL' : 'PGlite'} | ${row.operation} | ${fmt.rate(row.endpoint.successThroughput)} | ` +
        `${fmt.ms(row.endpoint.latency.p50)} / ${fmt.ms(row.endpoint.latency.p99)} | ${row.endpoint.failed} | ` +
        `${fmt.rate(row.bound.successThroughput)} (${row.boundName}) | ${fmt.ms(row.bound.latency.p50)} / ${fmt.ms(row.bound.latency.p99)} | ` +
        `**${fmt.ratio(row.ratio)}** ${row.ratio >= 0.8 ? '✅' : '❌'} |`,
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
    process.stdout.write(`${JSON.stringify({ ...result, samples: [] })}\n`);
  } else {
    const result = await runAthsAuthBench({
      drivers: flag(argv, 'drivers')?.split(',') as AthsBenchDriver[] | undefined,
      durationMs: flag(argv, 'duration') ? Number(flag(argv, 'duration')) * 1000 : undefined,
      warmupMs: flag(argv, 'warmup') ? Number(flag(argv, 'warmup')) * 1000 : undefined,
      concurrency: flag(argv, 'concurrency') ? Number(flag(argv, 'concurrency')) : undefined,
      threadpoolSize: flag(argv, 'threadpool') ? Number(flag(argv, 'threadpool')) : undefined,
    });
    console.log(result.markdown);
  }
}
