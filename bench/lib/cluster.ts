/**
 * CRMS and ATHS as real child processes, wired to each other with fresh API keys, each on its own throw-away
 * database: a PostgreSQL database on TEST_DATABASE_URL's server, or a PGlite data directory in a temp folder (a
 * directory rather than memory:// so that a killed and restarted service finds its data again). Optionally a
 * fault-injecting proxy sits between ATHS and CRMS.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';
import { createTestDatabase, freePort, REPO_ROOT, ServiceProcess } from '@shop/service-kit/testing';
import { FaultProxy, type FaultPlacement } from './fault-proxy.ts';
import { httpTarget, type HttpTarget } from './load.ts';

export type Driver = 'postgres' | 'pglite';

export const CRMS_ENTRY = 'services/crms/src/main.ts';
export const ATHS_ENTRY = 'services/aths/src/main.ts';
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The bench talks to the PostgreSQL server of TEST_DATABASE_URL, defaulting to the local one. */
export function ensureTestDatabaseUrl(): string {
  process.env.TEST_DATABASE_URL ??= DEFAULT_POSTGRES_URL;
  return process.env.TEST_DATABASE_URL;
}

export async function postgresAvailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ensureTestDatabaseUrl(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function serviceExists(entry: string): boolean {
  return existsSync(join(REPO_ROOT, entry));
}

export const PROVISIONING_DIR = 'services/aths/src/customer-provisioning';

/** Why a scenario that needs ATHS, CRMS and provisioning cannot run yet, or undefined when it can. */
export function clusterMissing(): string | undefined {
  const missing = [ATHS_ENTRY, CRMS_ENTRY, PROVISIONING_DIR].find((path) => !serviceExists(path));
  return missing === undefined ? undefined : `not available yet: ${missing} does not exist`;
}

/** A service's database: a PostgreSQL URL, or a PGlite directory (only readable from here while the service is stopped). */
export interface BenchDatabase {
  driver: Driver;
  url: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(driver: Driver, label: string): Promise<BenchDatabase> {
  if (driver === 'postgres') {
    ensureTestDatabaseUrl();
    const database = await createTestDatabase('postgres', label);
    return { driver, url: database.url, drop: database.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), `${label}-`));
  return { driver, url: dir, drop: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Runs SQL against a service's database from the bench process. On PGlite the directory is opened here, so the
 * service that owns it must be stopped first.
 */
export async function queryDatabase<T extends Record<string, unknown>>(
  database: BenchDatabase,
  statement: string,
  params: unknown[] = [],
): Promise<T[]> {
  if (database.driver === 'postgres') {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<T>(statement, params)).rows;
    } finally {
      await client.end();
    }
  }
  const client = await PGlite.create(database.url, { extensions: { pg_trgm } });
  try {
    return (await client.query<T>(statement, params)).rows;
  } finally {
    await client.close();
  }
}

export interface ClusterOptions {
  driver: Driver;
  /** Start ATHS too (default true); CRMS alone otherwise. */
  withAths?: boolean;
  /** Put a fault-injecting proxy between ATHS and CRMS. */
  faults?: { failureRate: number; placement?: FaultPlacement; seed?: number };
  crmsEnv?: Record<string, string | undefined>;
  athsEnv?: Record<string, string | undefined>;
  label?: string;
  /** Keep the children's logs (default false: a long run logs a lot). */
  captureOutput?: boolean;
}

export interface Cluster {
  driver: Driver;
  crms: ServiceProcess;
  aths: ServiceProcess | undefined;
  proxy: FaultProxy | undefined;
  crmsDb: BenchDatabase;
  athsDb: BenchDatabase | undefined;
  crmsKey: string;
  athsKey: string;
  admin: { email: string; password: string };
  crmsHttp: HttpTarget;
  athsHttp: HttpTarget | undefined;
  /** Logs in as the bootstrap administrator (cached). */
  adminToken(): Promise<string>;
  stop(options?: { keepDatabases?: boolean }): Promise<void>;
}

export const BENCH_ADMIN = { email: 'bench-admin@example.com', password: 'BenchAdmin123' };

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const label = options.label ?? 'bench';
  const withAths = options.withAths ?? true;
  const crmsKey = randomBytes(24).toString('hex');
  const athsKey = randomBytes(24).toString('hex');
  const crmsPort = await freePort();
  const athsPort = await freePort();
  const crmsDb = await createBenchDatabase(options.driver, `${label}_crms`);
  const athsDb = withAths ? await createBenchDatabase(options.driver, `${label}_aths`) : undefined;
  const started: ServiceProcess[] = [];
  let proxy: FaultProxy | undefined;
  try {
    const crmsUrl = `http://127.0.0.1:${crmsPort}`;
    let crmsUrlForAths = crmsUrl;
    if (options.faults) {
      proxy = await FaultProxy.start({
        target: crmsUrl,
        failureRate: options.faults.failureRate,
        placement: options.faults.placement,
        seed: options.faults.seed,
      });
      crmsUrlForAths = proxy.url;
    }
    // Both start at once (ports are fixed up front, so each knows where the other will be): halves the start-up,
    // which on PGlite is mostly initdb. ATHS's worker simply retries until CRMS answers.
    const crmsStart = ServiceProcess.start({
      entry: CRMS_ENTRY,
      port: crmsPort,
      captureOutput: options.captureOutput ?? false,
      startTimeoutMs: 120_000,
      env: {
        DATABASE_URL: crmsDb.url,
        SERVICE_API_KEYS: crmsKey,
        ATHS_BASE_URL: `http://127.0.0.1:${athsPort}`,
        ATHS_SERVICE_API_KEY: athsKey,
        LOG_LEVEL: 'error',
        ...options.crmsEnv,
      },
    }).then((service) => {
      started.push(service);
      return service;
    });
    const athsStart = withAths
      ? ServiceProcess.start({
          entry: ATHS_ENTRY,
          port: athsPort,
          captureOutput: options.captureOutput ?? false,
          startTimeoutMs: 120_000,
          env: {
            DATABASE_URL: athsDb!.url,
            SERVICE_API_KEYS: athsKey,
            CRMS_BASE_URL: crmsUrlForAths,
            CRMS_SERVICE_API_KEY: crmsKey,
            ADMIN_EMAIL: BENCH_ADMIN.email,
            ADMIN_PASSWORD: BENCH_ADMIN.password,
            RATE_LIMIT_ENABLED: 'false',
            LOG_LEVEL: 'error',
            ...options.athsEnv,
          },
        }).then((service) => {
          started.push(service);
          return service;
        })
      : Promise.resolve(undefined);
    const [crmsResult, athsResult] = await Promise.allSettled([crmsStart, athsStart]);
    if (crmsResult.status === 'rejected') throw crmsResult.reason;
    if (athsResult.status === 'rejected') throw athsResult.reason;
    const crms = crmsResult.value;
    const aths = athsResult.value;
    const crmsHttp = httpTarget(crms.url, 128);
    const athsHttp = aths ? httpTarget(aths.url, 256) : undefined;
    let token: string | undefined;
    return {
      driver: options.driver,
      crms,
      aths,
      proxy,
      crmsDb,
      athsDb,
      crmsKey,
      athsKey,
      admin: BENCH_ADMIN,
      crmsHttp,
      athsHttp,
      async adminToken() {
        if (token) return token;
        if (!athsHttp) throw new Error('ATHS is not running in this cluster');
        const response = await athsHttp.json<{ data?: { accessToken?: string } }>('POST', '/api/auth/login', {
          email: BENCH_ADMIN.email,
          password: BENCH_ADMIN.password,
        });
        if (response.status !== 200 || !response.body?.data?.accessToken) {
          throw new Error(`admin login failed: ${response.status} ${JSON.stringify(response.body)}`);
        }
        token = response.body.data.accessToken;
        return token;
      },
      async stop(stopOptions = {}) {
        await crmsHttp.close().catch(() => undefined);
        await athsHttp?.close().catch(() => undefined);
        if (aths) await aths.stop().catch(() => undefined);
        await proxy?.close().catch(() => undefined);
        await crms.stop().catch(() => undefined);
        if (!stopOptions.keepDatabases) {
          await crmsDb.drop().catch(() => undefined);
          await athsDb?.drop().catch(() => undefined);
        }
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.kill().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await crmsDb.drop().catch(() => undefined);
    await athsDb?.drop().catch(() => undefined);
    throw error;
  }
}

/** Resident set size (bytes) of a process, from /proc/<pid>/status (VmRSS). */
export async function rssOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the maximum and the last value. */
export function sampleRss(pid: number | undefined, everyMs = 250) {
  let max = 0;
  let last = Number.NaN;
  const timer = setInterval(() => {
    void rssOf(pid).then((value) => {
      if (Number.isFinite(value)) {
        last = value;
        max = Math.max(max, value);
      }
    });
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { max: max || Number.NaN, last };
    },
  };
}

/** A valid registration body with unique email and a fixed strong password. */
export function registrationBody(tag: string, i: number) {
  return {
    email: `${tag}-${i}@bench.example.com`,
    password: 'BenchPassw0rd',
    fullName: `Bench User ${i}`,
    contactNumber: `+1 555 ${String(1_000_000 + (i % 9_000_000)).slice(0, 7)}`,
  };
}

export function runTag(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}
