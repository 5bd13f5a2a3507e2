import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

describe('npm start (scripts/start-all.ts)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'start-all-'));
  const athsPort = 15_000 + Math.floor(Math.random() * 2_000);
  const crmsPort = athsPort + 2_000;
  let child: ChildProcess | null = null;
  let output = '';

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
});
