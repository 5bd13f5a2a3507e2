/**
 * The production build as an operator uses it: in a copy of the repository (what a clone would hold), `npm ci`,
 * `npm run build`, `npm prune --omit=dev`, then both services started from dist/ with plain `node`, NODE_ENV=production
 * and real secrets, on each test database. The working tree is never installed into or pruned.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  createTestDatabase,
  freePort,
  REPO_ROOT,
  ServiceProcess,
  testDatabaseDrivers,
  type TestDatabase,
} from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const secret = () => randomBytes(24).toString('hex');
const ATHS_KEY = secret();
const CRMS_KEY = secret();
const ADMIN_EMAIL = 'admin@example.com';
const NODE_ARGS = ['--enable-source-maps'];

let copy = '';

/** Tracked files plus untracked ones that are not ignored: what a clone holds once the work tree is committed. */
async function copyRepository(target: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(REPO_ROOT, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(join(REPO_ROOT, file), join(target, file));
  }
}

async function npm(args: string[]): Promise<void> {
  await run('npm', [...args, '--no-audit', '--no-fund'], { cwd: copy, maxBuffer: 64 << 20 });
}

async function waitForReady(service: ServiceProcess, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${service.url}/health/ready`).catch(() => undefined);
    if (response?.status === 200 || Date.now() > deadline) return response ?? new Response(null, { status: 599 });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The ATHS admin CLI from dist/, as an operator runs it. */
async function cli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...NODE_ARGS, 'services/aths/dist/cli.js', ...args], {
      cwd: copy,
      env: { ...process.env, ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'shop-build-'));
  await copyRepository(copy);
  await npm(['ci', '--prefer-offline']);
  await npm(['run', 'build']);
  await npm(['prune', '--omit=dev']);
}, 300_000);

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

it('builds JavaScript with source maps and prunes the development tools', () => {
  for (const file of ['services/aths/dist/main.js', 'services/aths/dist/cli.js', 'services/crms/dist/main.js']) {
    expect(existsSync(join(copy, file)), file).toBe(true);
    const map = JSON.parse(readFileSync(join(copy, `${file}.map`), 'utf8')) as { sources: string[] };
    expect(map.sources).toContain('../../../packages/service-kit/src/server.ts');
  }
  expect(existsSync(join(copy, 'node_modules/tsx'))).toBe(false);
  expect(existsSync(join(copy, 'node_modules/esbuild'))).toBe(false);
});

describe.each(testDatabaseDrivers())('services started from dist/ in production, on %s', (driver) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('answer /health/ready, provision a Customer from ATHS to CRMS, and the CLI runs', { timeout: 120_000 }, async () => {
    // PostgreSQL: throw-away databases. PGlite: DATABASE_URL unset, so each service uses its default data directory,
    // which must resolve from dist/ to <copy>/data/<service> as it does from src/.
    const databases: Partial<Record<'aths' | 'crms', TestDatabase>> = {};
    if (driver === 'postgres') {
      for (const service of ['aths', 'crms'] as const) {
        const database = await createTestDatabase(driver, `build_${service}`);
        databases[service] = database;
        cleanups.push(() => database.drop());
      }
    } else {
      cleanups.push(() => rmSync(join(copy, 'data'), { recursive: true, force: true }));
    }
    const [athsPort, crmsPort] = [await freePort(), await freePort()];
    const production = { NODE_ENV: 'production', LOG_LEVEL: 'warn' };
    const athsEnv = {
      ...production,
      DATABASE_URL: databases.aths?.url,
      SERVICE_API_KEYS: ATHS_KEY,
      CRMS_BASE_URL: `http://127.0.0.1:${crmsPort}`,
      CRMS_SERVICE_API_KEY: CRMS_KEY,
      ADMIN_EMAIL,
      ADMIN_PASSWORD: 'Admin-Passw0rd',
    };
    const crms = await ServiceProcess.start({
      cwd: copy,
      nodeArgs: NODE_ARGS,
      entry: 'services/crms/dist/main.js',
      port: crmsPort,
      env: { ...production, DATABASE_URL: databases.crms?.url, SERVICE_API_KEYS: CRMS_KEY, ATHS_BASE_URL: `http://127.0.0.1:${athsPort}`, ATHS_SERVICE_API_KEY: ATHS_KEY },
    });
    cleanups.push(() => crms.stop());
    const aths = await ServiceProcess.start({ cwd: copy, nodeArgs: NODE_ARGS, entry: 'services/aths/dist/main.js', port: athsPort, env: athsEnv });
    cleanups.push(() => aths.stop());

    for (const service of [aths, crms]) {
      expect((await waitForReady(service)).status, service.logs()).toBe(200);
      // The version comes from the service's package.json, read relative to the bundle.
      const health = (await (await fetch(`${service.url}/health`)).json()) as { version: string };
      expect(health.version).toBe('1.0.0');
    }
    if (driver === 'pglite') {
      expect(existsSync(join(copy, 'data/aths/PG_VERSION'))).toBe(true);
      expect(existsSync(join(copy, 'data/crms/PG_VERSION'))).toBe(true);
    }

    const email = `build.${Date.now().toString(36)}@example.com`;
    const registered = await fetch(`${aths.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'Secret123', fullName: 'Built Customer', contactNumber: '0123456789' }),
    });
    expect(registered.status).toBe(201);
    const userId = ((await registered.json()) as { data: { user: { _id: string } } }).data.user._id;
    let record: Response | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      record = await fetch(`${crms.url}/api/customers/internal/user/${userId}`, { headers: { 'x-api-key': CRMS_KEY } });
      if (record.status === 200) break;
    }
    expect(record?.status, crms.logs() + aths.logs()).toBe(200);
    expect(((await record!.json()) as { data: { email: string } }).data.email).toBe(email);

    // ATHS marks the outbox row delivered after CRMS's answer: wait for that before reading it back with the CLI.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      if (/^aths_customer_users_provisioned(\{[^}]*\})? 1$/m.test(await (await fetch(`${aths.url}/metrics`)).text())) break;
    }
    // The CLI after ATHS stops (a PGlite directory admits one process at a time).
    await aths.stop();
    const status = await cli(['sync-status'], athsEnv);
    expect(status.output).toContain('customers: 1 registered, 1 with a confirmed CRMS record');
    expect(status.code).toBe(0);
    // A failing command prints its stack trace, mapped back to the TypeScript sources.
    const duplicate = await cli(['create-admin', '--email', ADMIN_EMAIL], athsEnv);
    expect(duplicate.code).toBe(1);
    expect(duplicate.output).toMatch(/services\/aths\/src\/accounts\/registration\.ts:\d+/);
  });
});
