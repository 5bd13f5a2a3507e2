/**
 * CRMS internal create alone (a child process, 50 keep-alive connections, unique userIds): req/s, p50, p99, idle RSS.
 *   npx tsx bench/crms-internal-create.ts [--driver=postgres,pglite] [--duration=10] [--warmup=2] [--connections=50]
 * PostgreSQL: BENCH_DATABASE_URL, else TEST_DATABASE_URL; a throw-away database is made there and dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { createTestDatabase, freePort } from '@shop/service-kit/testing';

export type CrmsBenchDriver = 'postgres' | 'pglite';

export interface CrmsBenchOptions {
  driver: CrmsBenchDriver;
  /** PostgreSQL server to create the throw-away database on (driver postgres). */
  adminUrl?: string;
  connections?: number;
  durationMs?: number;
  warmupMs?: number;
  /** CRMS's own database pool (DB_POOL_SIZE). */
  dbPoolSize?: number;
  /** Forward the child's stderr (warnings, errors) to ours. */
  verbose?: boolean;
  /** How to start CRMS (default `npx tsx services/crms/src/main.ts`), e.g. with `node --cpu-prof --import tsx …`. */
  command?: string[];
}

export interface CrmsBenchResult {
  driver: CrmsBenchDriver;
  connections: number;
  durationSeconds: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** RSS of the CRMS process after start-up, before any load. */
  idleRssMb: number;
  /** RSS of the CRMS process right after the load. */
  loadedRssMb: number;
  /** CPU time the CRMS process spent per request (user + system, warm-up included): steadier than req/s on a busy machine. */
  cpuMsPerRequest: number;
  /** 1-minute load average of the machine just before and right after the measured run (context for noisy numbers). */
  loadAverage: { before: number; after: number; cpus: number };
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = randomBytes(24).toString('hex');

async function waitForHealth(baseUrl: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`CRMS exited with code ${child.exitCode} before becoming healthy`);
    try {
      // Ready, not just live: the service answers /health from the moment it listens, before its database is open.
      const response = await fetch(`${baseUrl}/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`CRMS did not answer /health/ready within ${timeoutMs} ms`);
}

/** One gauge of the CRMS process itself (behind the npx/tsx wrappers), from its Prometheus metrics. */
async function processMetric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

async function rssMb(baseUrl: string): Promise<number> {
  return Math.round(((await processMetric(baseUrl, 'process_resident_memory_bytes')) / 1024 / 1024) * 10) / 10;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 15_000);
  await exited;
  clearTimeout(timer);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function runCrmsInternalCreateBench(options: CrmsBenchOptions): Promise<CrmsBenchResult> {
  const connections = options.connections ?? 50;
  const durationMs = options.durationMs ?? 10_000;
  const warmupMs = options.warmupMs ?? 2_000;
  const adminUrl =
    options.adminUrl ?? process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const database = await createTestDatabase(options.driver, 'bench_crms', adminUrl);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const [program, ...programArgs] = options.command ?? ['npx', 'tsx', 'services/crms/src/main.ts'];
  const child = spawn(program!, programArgs, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', options.verbose ? 'inherit' : 'ignore'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: database.url,
      DB_POOL_SIZE: String(options.dbPoolSize ?? 16),
      SERVICE_API_KEYS: API_KEY,
      ATHS_BASE_URL: 'http://127.0.0.1:9',
      ATHS_SERVICE_API_KEY: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
    },
  });
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    await waitForHealth(baseUrl, child);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const idleRssMb = await rssMb(baseUrl);
    const cpuBefore = await processMetric(baseUrl, 'process_cpu_seconds_total');

    const prefix = randomBytes(6).toString('hex');
    let sequence = 0;
    const latencies: number[] = [];
    let requests = 0;
    let errors = 0;
    let sent = 0;
    const loadBefore = loadavg()[0]!;
    const started = performance.now();
    const measureFrom = started + warmupMs;
    const stopAt = measureFrom + durationMs;

    async function worker(): Promise<void> {
      while (true) {
        const begin = performance.now();
        if (begin >= stopAt) return;
        const userId = `${prefix}${(sequence++).toString(16).padStart(12, '0')}`;
        sent++;
        let ok: boolean;
        try {
          const response = await pool.request({
            method: 'POST',
            path: '/api/customers/internal/create',
            headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
            body: JSON.stringify({ userId, email: `user${userId}@example.com`, fullName: 'Bench Customer', contactNumber: '+1 555 010 0000' }),
          });
          const text = await response.body.text();
          ok = response.statusCode === 200 && text.includes('"Customer created successfully"');
        } catch {
          ok = false;
        }
        const end = performance.now();
        if (begin >= measureFrom && end <= stopAt) {
          requests++;
          latencies.push(end - begin);
          if (!ok) errors++;
        }
      }
    }

    await Promise.all(Array.from({ length: connections }, () => worker()));
    const cpuAfter = await processMetric(baseUrl, 'process_cpu_seconds_total');
    const loadedRssMb = await rssMb(baseUrl);
    latencies.sort((a, b) => a - b);
    return {
      driver: options.driver,
      connections,
      durationSeconds: durationMs / 1000,
      requests,
      errors,
      requestsPerSecond: round(requests / (durationMs / 1000), 0),
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
      maxMs: round(latencies.at(-1) ?? Number.NaN, 2),
      idleRssMb,
      loadedRssMb,
      cpuMsPerRequest: round(((cpuAfter - cpuBefore) * 1000) / Math.max(1, sent), 3),
      loadAverage: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2), cpus: cpus().length },
    };
  } finally {
    await pool.close().catch(() => undefined);
    await stopChild(child);
    await database.drop().catch((error: unknown) => process.stderr.write(`could not drop bench database: ${String(error)}\n`));
  }
}

export function crmsBenchTable(results: CrmsBenchResult[]): string {
  const lines = [
    '| Database | Connections | Duration (s) | Requests | req/s | p50 (ms) | p99 (ms) | max (ms) | Errors | Idle RSS (MB) | RSS after load (MB) | CRMS CPU ms/req | Load avg before → after (cores) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const name = r.driver === 'postgres' ? 'PostgreSQL' : 'PGlite (memory://)';
    lines.push(
      `| ${name} | ${r.connections} | ${r.durationSeconds} | ${r.requests} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.errors} | ${r.idleRssMb} | ${r.loadedRssMb} | ${r.cpuMsPerRequest} | ${r.loadAverage.before} → ${r.loadAverage.after} (${r.loadAverage.cpus}) |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = new Map(
    process.argv.slice(2).map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key!, value ?? 'true'] as const;
    }),
  );
  const drivers = (args.get('driver') ?? 'postgres,pglite').split(',') as CrmsBenchDriver[];
  const results: CrmsBenchResult[] = [];
  for (const driver of drivers) {
    process.stderr.write(`benchmarking CRMS internal create on ${driver}…\n`);
    results.push(
      await runCrmsInternalCreateBench({
        driver,
        durationMs: Number(args.get('duration') ?? 10) * 1000,
        warmupMs: Number(args.get('warmup') ?? 2) * 1000,
        connections: Number(args.get('connections') ?? 50),
        verbose: args.has('verbose'),
      }),
    );
  }
  process.stdout.write(`${crmsBenchTable(results)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
