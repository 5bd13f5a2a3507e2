/**
 * `npm run test:containers [-- --write-benchmarks]`: builds both images and checks the compose project (health,
 * provisioning, a PostgreSQL restart, sizes, cold start), cleaning up always (docs/deploy.md, "The container test").
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderContainerFigures, writeContainerFigures, type ContainerFigures } from './containers/benchmarks.ts';
import { containerOf, detectEngine, engineEnv, healthy, imageSize, inspect, mustRun, run, tail, type Engine } from './containers/engine.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVICES = ['postgres', 'redis', 'aths', 'crms'] as const;
const STOP_TIMEOUT_S = 15;
const started = Date.now();
const log = (message: string) => process.stdout.write(`[containers ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** 5001/5002 when free on every interface, else a free port (published ports bind 0.0.0.0). */
async function hostPort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer().once('error', () => resolve(undefined));
      server.listen(port, '0.0.0.0', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0))!;
}

async function status(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3_000) })).status;
  } catch {
    return undefined;
  }
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as unknown };
}

class ComposeProject {
  readonly name = `shoptest${Date.now().toString(36)}${hex(3)}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'shop-containers-'));
  readonly images = { aths: `shop/aths:${this.name}`, crms: `shop/crms:${this.name}` };
  readonly secrets = { crmsKey: hex(24), adminPassword: `Aa1${hex(12)}`, metricsToken: hex(20) };
  ports = { aths: 0, crms: 0 };

  constructor(readonly engine: Engine) {}

  get aths() {
    return `http://127.0.0.1:${this.ports.aths}`;
  }

  get crms() {
    return `http://127.0.0.1:${this.ports.crms}`;
  }

  /** compose.yaml and a generated .env in a directory of their own, so a developer's .env is never read or touched. */
  async prepare(): Promise<void> {
    this.ports = { aths: await hostPort(5001), crms: await hostPort(5002) };
    copyFileSync(join(ROOT, 'compose.yaml'), join(this.dir, 'compose.yaml'));
    const env = {
      POSTGRES_USER: 'shop',
      POSTGRES_PASSWORD: hex(16),
      ATHS_SERVICE_API_KEY: hex(24),
      CRMS_SERVICE_API_KEY: this.secrets.crmsKey,
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: this.secrets.adminPassword,
      CORS_ORIGINS: 'http://localhost:3000',
      METRICS_TOKEN: this.secrets.metricsToken,
      ATHS_PORT: this.ports.aths,
      CRMS_PORT: this.ports.crms,
      ATHS_IMAGE: this.images.aths,
      CRMS_IMAGE: this.images.crms,
    };
    writeFileSync(join(this.dir, '.env'), Object.entries(env).map(([key, value]) => `${key}=${value}\n`).join(''), { mode: 0o600 });
  }

  compose(args: string[], timeoutMs = 300_000): Promise<string> {
    return mustRun([...this.engine.compose, '-f', join(this.dir, 'compose.yaml'), '-p', this.name, ...args], { timeoutMs, env: engineEnv(this.engine) });
  }

  container(service: string): Promise<string> {
    return containerOf(this.engine, this.name, service);
  }

  async logs(): Promise<string> {
    const parts: string[] = [];
    for (const service of SERVICES) {
      const result = await run([this.engine.name, 'logs', '--tail', '40', await this.container(service)]);
      parts.push(`--- ${service} ---\n${tail(result.stdout + result.stderr, 40)}`);
    }
    return parts.join('\n');
  }

  /** Everything the project created: containers, network, volume, the test's image tags, the generated .env. */
  async down(): Promise<void> {
    const engine = this.engine.name;
    await run([...this.engine.compose, '-f', join(this.dir, 'compose.yaml'), '-p', this.name, 'down', '-v', '-t', String(STOP_TIMEOUT_S)], { env: engineEnv(this.engine) });
    const label = `label=com.docker.compose.project=${this.name}`;
    const leftovers = (await run([engine, 'ps', '-aq', '--filter', label])).stdout.split('\n').filter(Boolean);
    if (leftovers.length) await run([engine, 'rm', '-f', ...leftovers]);
    const volumes = (await run([engine, 'volume', 'ls', '-q', '--filter', label])).stdout.split('\n').filter(Boolean);
    if (volumes.length) await run([engine, 'volume', 'rm', '-f', ...volumes]);
    if (engine === 'podman') await run(['podman', 'network', 'rm', '-f', `${this.name}_default`]);
    await run([engine, 'rmi', this.images.aths, this.images.crms]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function registerCustomer(project: ComposeProject): Promise<{ userId: string; accessToken: string }> {
  const email = `container.${Date.now().toString(36)}.${hex(2)}@example.com`;
  const body = { email, password: 'Secret123', fullName: 'Container Customer', contactNumber: '0123456789' };
  const registered = await post(`${project.aths}/api/auth/register`, body);
  if (registered.status !== 201) throw new Error(`registration answered ${registered.status}: ${JSON.stringify(registered.body)}`);
  const { data } = registered.body as { data: { user: { _id: string }; accessToken: string } };
  return { userId: data.user._id, accessToken: data.accessToken };
}

/** The Customer's CRMS record through CRMS's internal route (no repair-on-read: only provisioning can create it). */
async function provisioned(project: ComposeProject, userId: string, timeoutMs: number): Promise<void> {
  await until(`the CRMS record of ${userId}`, timeoutMs, async () => {
    const response = await fetch(`${project.crms}/api/customers/internal/user/${userId}`, { headers: { 'x-api-key': project.secrets.crmsKey } }).catch(() => undefined);
    return response?.status === 200 ? true : undefined;
  });
}

async function allHealthy(project: ComposeProject, timeoutMs: number): Promise<void> {
  for (const service of SERVICES) {
    const id = await project.container(service);
    await until(`${service} to be healthy`, timeoutMs, async () => ((await healthy(project.engine, id)) ? true : undefined), 1_000);
  }
  for (const url of [project.aths, project.crms]) await until(`${url}/health/ready`, timeoutMs, async () => ((await status(`${url}/health/ready`)) === 200 ? true : undefined));
}

/** SIGTERM → exit (Node as PID 1 must shut down by itself, well inside the stop timeout), then start → ready. */
async function restartTimed(project: ComposeProject, service: 'aths' | 'crms'): Promise<{ stopS: number; coldStartS: number }> {
  const id = await project.container(service);
  const url = `${service === 'aths' ? project.aths : project.crms}/health/ready`;
  let t0 = Date.now();
  await mustRun([project.engine.name, 'stop', '-t', String(STOP_TIMEOUT_S), id]);
  const stopS = (Date.now() - t0) / 1000;
  const exitCode = await inspect(project.engine, id, '{{.State.ExitCode}}');
  if (exitCode !== '0' || stopS > 10) throw new Error(`${service} did not shut down gracefully on SIGTERM (exit code ${exitCode} after ${stopS.toFixed(1)} s)`);
  t0 = Date.now();
  await mustRun([project.engine.name, 'start', id]);
  await until(`${service} ready after a cold start`, 60_000, async () => ((await status(url)) === 200 ? true : undefined), 50);
  return { stopS, coldStartS: (Date.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const engine = await detectEngine();
  const project = new ComposeProject(engine);
  let teardown: Promise<void> | undefined;
  const tearDown = () => {
    teardown ??= (log(`removing project ${project.name}`), project.down());
    return teardown;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void tearDown().finally(() => process.exit(130));
    });
  }
  try {
    log(`engine: ${engine.name}; project ${project.name}`);
    await project.prepare();
    for (const service of ['aths', 'crms'] as const) {
      log(`building ${project.images[service]}`);
      await mustRun([engine.name, 'build', '--target', service, '-t', project.images[service], ROOT], { timeoutMs: 900_000, env: engineEnv(engine) });
    }
    log(`starting compose (ATHS on ${project.ports.aths}, CRMS on ${project.ports.crms})`);
    await project.compose(['up', '-d', '--no-build']);
    await allHealthy(project, 180_000);
    log('every service is healthy');

    const first = await registerCustomer(project);
    await provisioned(project, first.userId, 30_000);
    const me = await fetch(`${project.crms}/api/customers/me`, { headers: { authorization: `Bearer ${first.accessToken}` } });
    if (me.status !== 200) throw new Error(`CRMS /me with the ATHS access token answered ${me.status} (JWKS over the compose network)`);
    const admin = await post(`${project.aths}/api/auth/login`, { email: 'admin@example.com', password: project.secrets.adminPassword });
    if (admin.status !== 200) throw new Error(`the bootstrap administrator cannot log in: ${admin.status}`);
    log('a Customer registered on ATHS is in CRMS; CRMS verifies ATHS tokens; the administrator was bootstrapped');
    for (const url of [project.aths, project.crms]) {
      const open = await status(`${url}/metrics`);
      const scraped = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${project.secrets.metricsToken}` } });
      await scraped.body?.cancel();
      if (open !== 401 || scraped.status !== 200) throw new Error(`${url}/metrics: ${open} without METRICS_TOKEN, ${scraped.status} with it`);
    }
    log('/metrics answers only the scraper (METRICS_TOKEN from .env)');

    const figures: ContainerFigures = { engine: engine.name, baseImageBytes: await imageSize(engine, 'node:20-bookworm-slim'), services: [] };
    for (const service of ['aths', 'crms'] as const) {
      const timing = await restartTimed(project, service);
      figures.services.push({ service, imageBytes: await imageSize(engine, project.images[service]), ...timing });
      log(`${service}: stopped in ${timing.stopS.toFixed(1)} s, cold start ${timing.coldStartS.toFixed(2)} s`);
    }

    log('restarting PostgreSQL');
    await mustRun([engine.name, 'restart', '-t', '10', await project.container('postgres')]);
    const recovered = Date.now();
    await allHealthy(project, 120_000);
    const second = await until('a registration to succeed after the restart', 60_000, () => registerCustomer(project).catch(() => undefined), 1_000);
    await provisioned(project, second.userId, 60_000);
    const restarts: string[] = [];
    for (const service of ['aths', 'crms'] as const) restarts.push(`${service} ${await inspect(engine, await project.container(service), '{{.RestartCount}}')}`);
    log(`recovered from the PostgreSQL restart in ${((Date.now() - recovered) / 1000).toFixed(1)} s (container restarts: ${restarts.join(', ')})`);

    process.stdout.write(`\n${renderContainerFigures(figures)}\n\n`);
    if (process.argv.includes('--write-benchmarks')) {
      writeContainerFigures(join(ROOT, 'docs/benchmarks.md'), figures);
      log('wrote the figures into docs/benchmarks.md');
    }
    log('PASS');
  } catch (error) {
    log(`FAIL: ${(error as Error).message}`);
    process.stdout.write(`${await project.logs().catch(() => '(no containers)')}\n`);
    process.exitCode = 1;
  } finally {
    await tearDown();
  }
}

await main();
