/**
 * ATHS and CRMS as real child processes wired to each other, each on a throw-away database (a PGlite directory, not
 * memory://, so a killed service finds its data again), optionally with the fault proxy between them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';
import type { DatabaseDriver } from '@shop/service-kit';
import { createTestDatabase, freePort, REPO_ROOT, ServiceProcess } from '@shop/service-kit/testing';
import { FaultProxy, type FaultPlacement } from './fault-proxy.ts';
import { httpTarget, type HttpTarget } from './http.ts';

export type Driver = DatabaseDriver;

export const CRMS_ENTRY = 'services/crms/src/main.ts';
export const ATHS_ENTRY = 'services/aths/src/main.ts';
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Clusters use the PostgreSQL server of TEST_DATABASE_URL, defaulting to the local one (so the bench needs no setting). */
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

const PROVISIONING_DIR = 'services/aths/src/customer-provisioning';

/** Why a scenario that needs ATHS, CRMS and provisioning cannot run yet, or undefined when it can. */
export function clusterMissing(): string | undefined {
  const missing = [ATHS_ENTRY, CRMS_ENTRY, PROVISIONING_DIR].find((path) => !serviceExists(path));
  return missing === undefined ? undefined : `not available yet: ${missing} does not exist`;
}

/** A service's database: a PostgreSQL URL, or a PGlite directory (only readable from here while the service is stopped). */
export interface ClusterDatabase {
  driver: Driver;
  url: string;
  drop(): Promise<void>;
}

export async function createClusterDatabase(driver: Driver, label: string): Promise<ClusterDatabase> {
  if (driver === 'postgres') {
    ensureTestDatabaseUrl();
    const database = await createTestDatabase('postgres', label);
    return { driver, url: database.url, drop: database.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), `${label}-`));
  return { driver, url: dir, drop: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Runs SQL against a service's database from this process. On PGlite the directory is opened here, so the
 * service that owns it must be stopped first.
 */
export async function queryDatabase<T extends Record<string, unknown>>(
  database: ClusterDatabase,
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
  crmsDb: ClusterDatabase;
  athsDb: ClusterDatabase | undefined;
  crmsKey: string;
  athsKey: string;
  admin: { email: string; password: string };
  crmsHttp: HttpTarget;
  athsHttp: HttpTarget | undefined;
  /** Logs in as the bootstrap administrator (cached). */
  adminToken(): Promise<string>;
  stop(options?: { keepDatabases?: boolean }): Promise<void>;
}

const CLUSTER_ADMIN = { email: 'cluster-admin@example.com', password: 'ClusterAdmin123' };

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const label = options.label ?? 'cluster';
  const withAths = options.withAths ?? true;
  const crmsKey = randomBytes(24).toString('hex');
  const athsKey = randomBytes(24).toString('hex');
  const crmsPort = await freePort();
  const athsPort = await freePort();
  const crmsDb = await createClusterDatabase(options.driver, `${label}_crms`);
  const athsDb = withAths ? await createClusterDatabase(options.driver, `${label}_aths`) : undefined;
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
            ADMIN_EMAIL: CLUSTER_ADMIN.email,
            ADMIN_PASSWORD: CLUSTER_ADMIN.password,
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
      admin: CLUSTER_ADMIN,
      crmsHttp,
      athsHttp,
      async adminToken() {
        if (token) return token;
        if (!athsHttp) throw new Error('ATHS is not running in this cluster');
        const response = await athsHttp.json<{ data?: { accessToken?: string } }>('POST', '/api/auth/login', {
          email: CLUSTER_ADMIN.email,
          password: CLUSTER_ADMIN.password,
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
