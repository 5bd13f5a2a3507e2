import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../../..');

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface StartAll {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** scripts/start-all.ts as `npm start` runs it (node --import tsx), in `cwd`. */
function startAll(cwd: string, env: Record<string, string>): StartAll {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'scripts/start-all.ts')], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

/** SIGTERM, SIGKILL after 20 s if that does not end it: never orphan the services. */
async function stop(run: StartAll | null): Promise<number | null | undefined> {
  if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return run?.child.exitCode;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const code = await run.exited;
  clearTimeout(timer);
  return code;
}

async function login(athsUrl: string, email: string, password: string): Promise<number> {
  const response = await fetch(`${athsUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return response.status;
}

async function register(athsUrl: string, email: string): Promise<string> {
  const response = await fetch(`${athsUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'Secret123', fullName: 'Some One', contactNumber: '0123456789' }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { data: { user: { _id: string } } }).data.user._id;
}

async function crmsRecordStatus(crmsUrl: string, userId: string, key: string): Promise<number> {
  let status = 0;
  for (let i = 0; i < 40 && status !== 200; i++) {
    status = (await fetch(`${crmsUrl}/api/customers/internal/user/${userId}`, { headers: { 'x-api-key': key } })).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  return status;
}

describe('npm start (scripts/start-all.ts)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'start-all-'));
  const athsPort = 15_000 + Math.floor(Math.random() * 2_000);
  const crmsPort = athsPort + 2_000;
  let child: ChildProcess | null = null;
  let output = '';
  let firstUserId = '';
  const scratch: string[] = [];
  const athsUrl = `http://127.0.0.1:${athsPort}`;
  const crmsUrl = `http://127.0.0.1:${crmsPort}`;

  afterAll(async () => {
    // SIGTERM (forwarded to both services), SIGKILL only if that does not end it: never orphan the services.
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(cwd, { recursive: true, force: true });
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('starts both services wired together, with a first administrator, and stops them on SIGTERM', async () => {
    child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'scripts/start-all.ts')], {
      cwd,
      env: { ...process.env, ATHS_PORT: String(athsPort), CRMS_PORT: String(crmsPort), LOG_LEVEL: 'warn', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(`http://127.0.0.1:${athsPort}/health/ready`, 90_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
    await waitFor(`http://127.0.0.1:${crmsPort}/health/ready`, 90_000);

    const secrets = JSON.parse(readFileSync(join(cwd, 'data/dev-secrets.json'), 'utf8'));
    expect(secrets).toMatchObject({ adminEmail: 'admin@example.com', adminPassword: expect.any(String) });
    const login = await fetch(`http://127.0.0.1:${athsPort}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: secrets.adminEmail, password: secrets.adminPassword }),
    });
    expect(login.status).toBe(200);
    const register = await fetch(`http://127.0.0.1:${athsPort}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'someone@example.com', password: 'Secret123', fullName: 'Some One', contactNumber: '0123456789' }),
    });
    expect(register.status).toBe(201);
    // CRMS reaches ATHS's internal API with the shared key (ATHS's key is one CRMS sends, and vice versa).
    const userId = (await register.json()).data.user._id;
    firstUserId = userId;
    const internal = await fetch(`http://127.0.0.1:${athsPort}/api/internal/user/${userId}`, { headers: { 'x-api-key': secrets.athsServiceApiKey } });
    expect(internal.status).toBe(200);
    // ATHS provisions the Customer in CRMS with the key CRMS accepts: the record appears within moments.
    let crmsStatus = 0;
    for (let i = 0; i < 40 && crmsStatus !== 200; i++) {
      const crmsInternal = await fetch(`http://127.0.0.1:${crmsPort}/api/customers/internal/user/${userId}`, {
        headers: { 'x-api-key': secrets.crmsServiceApiKey },
      });
      crmsStatus = crmsInternal.status;
      if (crmsStatus !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(crmsStatus).toBe(200);

    for (let i = 0; i < 40 && !output.includes('Sign in as the first administrator'); i++) await new Promise((r) => setTimeout(r, 250));
    expect(output).toContain(`http://127.0.0.1:${athsPort}/docs`);
    expect(output).toContain(`http://127.0.0.1:${crmsPort}/docs`);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);

  it('keeps the data across a restart, both services in one ./data/pglite', async () => {
    const run = startAll(cwd, { ATHS_PORT: String(athsPort), CRMS_PORT: String(crmsPort) });
    try {
      await waitFor(`${athsUrl}/health/ready`, 90_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${run.output()}`);
      });
      await waitFor(`${crmsUrl}/health/ready`, 90_000);
      const secrets = JSON.parse(readFileSync(join(cwd, 'data/dev-secrets.json'), 'utf8')) as { adminEmail: string; adminPassword: string; crmsServiceApiKey: string };
      expect(await login(athsUrl, 'someone@example.com', 'Secret123')).toBe(200);
      expect(await login(athsUrl, secrets.adminEmail, secrets.adminPassword)).toBe(200);
      expect(await crmsRecordStatus(crmsUrl, firstUserId, secrets.crmsServiceApiKey)).toBe(200);
      expect(existsSync(join(cwd, 'data/pglite/PG_VERSION'))).toBe(true);
      expect(existsSync(join(cwd, 'data/aths'))).toBe(false);
      expect(existsSync(join(cwd, 'data/crms'))).toBe(false);
    } finally {
      expect(await stop(run)).toBe(0);
    }
  }, 120_000);

  it('stops the other service and exits non-zero when one cannot start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'start-all-fail-'));
    scratch.push(dir);
    // CRMS's port is taken: CRMS fails at once while ATHS is still starting, and ATHS must not stay up.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(crmsPort + 1, '127.0.0.1', resolve));
    const run = startAll(dir, { ATHS_PORT: String(athsPort + 1), CRMS_PORT: String(crmsPort + 1) });
    try {
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 90_000);
      const code = await run.exited;
      clearTimeout(timer);
      expect(code, run.output()).toBe(1);
      expect(run.output()).toContain('CRMS failed to start');
      await expect(fetch(`http://127.0.0.1:${athsPort + 1}/health`)).rejects.toThrow();
    } finally {
      await stop(run);
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 120_000);

  it('keeps using ./data/aths and ./data/crms of an earlier version, data intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'start-all-legacy-'));
    scratch.push(dir);
    const ports = { ATHS_PORT: String(athsPort + 2), CRMS_PORT: String(crmsPort + 2) };
    const aths = `http://127.0.0.1:${athsPort + 2}`;
    const crms = `http://127.0.0.1:${crmsPort + 2}`;
    // The layout earlier versions made: one PGlite directory per service.
    const old = startAll(dir, { ...ports, ATHS_DATABASE_URL: join(dir, 'data/aths'), CRMS_DATABASE_URL: join(dir, 'data/crms') });
    let userId: string;
    try {
      await waitFor(`${aths}/health/ready`, 120_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${old.output()}`);
      });
      await waitFor(`${crms}/health/ready`, 90_000);
      userId = await register(aths, 'earlier@example.com');
    } finally {
      expect(await stop(old)).toBe(0);
    }
    const secrets = JSON.parse(readFileSync(join(dir, 'data/dev-secrets.json'), 'utf8')) as { crmsServiceApiKey: string };

    const run = startAll(dir, ports);
    try {
      await waitFor(`${aths}/health/ready`, 90_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${run.output()}`);
      });
      await waitFor(`${crms}/health/ready`, 90_000);
      expect(run.output()).toContain('per-service databases of an earlier version');
      expect(await login(aths, 'earlier@example.com', 'Secret123')).toBe(200);
      expect(await crmsRecordStatus(crms, userId, secrets.crmsServiceApiKey)).toBe(200);
      expect(existsSync(join(dir, 'data/pglite'))).toBe(false);
    } finally {
      expect(await stop(run)).toBe(0);
    }
  }, 240_000);
});
