/**
 * `npm start`: both services on PGlite under ./data/, dev secrets kept in ./data/dev-secrets.json, wired to each other,
 * a first administrator; Ctrl-C stops both, one dying stops the other (docs/aths.md, "`npm start`").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cwd = process.cwd();
const dataDir = resolve(cwd, process.env.DATA_DIR ?? 'data');
const secretsFile = resolve(dataDir, 'dev-secrets.json');

interface DevSecrets {
  /** The key CRMS sends to ATHS (ATHS's SERVICE_API_KEYS, CRMS's ATHS_SERVICE_API_KEY). */
  athsServiceApiKey: string;
  /** The key ATHS sends to CRMS (CRMS's SERVICE_API_KEYS, ATHS's CRMS_SERVICE_API_KEY). */
  crmsServiceApiKey: string;
  adminEmail: string;
  adminPassword: string;
}

const secret = () => randomBytes(24).toString('hex');
const password = () => `Aa1-${randomBytes(12).toString('base64url')}`;

function loadSecrets(): DevSecrets {
  mkdirSync(dataDir, { recursive: true });
  const stored: Partial<DevSecrets> = existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : {};
  const secrets: DevSecrets = {
    athsServiceApiKey: stored.athsServiceApiKey ?? secret(),
    crmsServiceApiKey: stored.crmsServiceApiKey ?? secret(),
    adminEmail: stored.adminEmail ?? process.env.ADMIN_EMAIL ?? 'admin@example.com',
    adminPassword: stored.adminPassword ?? process.env.ADMIN_PASSWORD ?? password(),
  };
  if (JSON.stringify(secrets) !== JSON.stringify(stored)) {
    writeFileSync(secretsFile, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  }
  return secrets;
}

const env = process.env;
const secrets = loadSecrets();
const host = env.HOST ?? '127.0.0.1';
const athsPort = Number(env.ATHS_PORT ?? 5001);
const crmsPort = Number(env.CRMS_PORT ?? 5002);
const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host;
const athsUrl = env.ATHS_BASE_URL ?? `http://${urlHost}:${athsPort}`;
const crmsUrl = env.CRMS_BASE_URL ?? `http://${urlHost}:${crmsPort}`;
const athsKey = env.ATHS_SERVICE_API_KEY ?? secrets.athsServiceApiKey;
const crmsKey = env.CRMS_SERVICE_API_KEY ?? secrets.crmsServiceApiKey;
const adminEmail = env.ADMIN_EMAIL ?? secrets.adminEmail;
const adminPassword = env.ADMIN_PASSWORD ?? secrets.adminPassword;

const common: NodeJS.ProcessEnv = { ...env, NODE_ENV: env.NODE_ENV ?? 'development', HOST: host };
// Variables that mean something different per service are set explicitly for each.
delete common.PORT;
delete common.DATABASE_URL;
delete common.SERVICE_API_KEYS;

const services = [
  {
    name: 'ATHS',
    main: 'services/aths/src/main.ts',
    url: athsUrl,
    env: {
      ...common,
      PORT: String(athsPort),
      DATABASE_URL: env.ATHS_DATABASE_URL ?? resolve(dataDir, 'aths'),
      SERVICE_API_KEYS: athsKey,
      CRMS_BASE_URL: crmsUrl,
      CRMS_SERVICE_API_KEY: crmsKey,
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD: adminPassword,
    },
  },
  {
    name: 'CRMS',
    main: 'services/crms/src/main.ts',
    url: crmsUrl,
    env: {
      ...common,
      PORT: String(crmsPort),
      DATABASE_URL: env.CRMS_DATABASE_URL ?? resolve(dataDir, 'crms'),
      SERVICE_API_KEYS: crmsKey,
      ATHS_BASE_URL: athsUrl,
      ATHS_SERVICE_API_KEY: athsKey,
    },
  },
];

const children: ChildProcess[] = [];
let stopping = false;

function stopAll(signal: NodeJS.Signals, exitCode: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const force = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(exitCode || 1);
  }, 15_000);
  force.unref();
  void Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? null : new Promise((r) => child.once('exit', r))))).then(() =>
    process.exit(exitCode),
  );
}

for (const service of services) {
  // `node --import tsx` (not the tsx wrapper) so that signals reach the service itself.
  const child = spawn(process.execPath, ['--import', 'tsx', service.main], { cwd: repoRoot, env: service.env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`\n${service.name} stopped (${signal ?? `exit code ${code}`}); stopping the other service.`);
      stopAll('SIGTERM', code || 1);
    }
  });
}

process.once('SIGINT', () => stopAll('SIGTERM', 0));
process.once('SIGTERM', () => stopAll('SIGTERM', 0));

async function waitForHealth(url: string, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      // Ready, not just live: each service listens before its database is open.
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

const healthy = await Promise.all(services.map((service) => waitForHealth(service.url)));
if (!stopping) {
  if (healthy.every(Boolean)) {
    const lines = [
      '',
      '────────────────────────────────────────────────────────────────────',
      ` ATHS  ${athsUrl}    API docs: ${athsUrl}/docs`,
      ` CRMS  ${crmsUrl}    API docs: ${crmsUrl}/docs`,
      ` Data and dev secrets: ${dataDir} (${secretsFile})`,
      '',
      ' Sign in as the first administrator:',
      `   email:    ${adminEmail}`,
      `   password: ${adminPassword}   (as first created; kept in dev-secrets.json)`,
      `   curl -s -X POST ${athsUrl}/api/auth/login -H 'content-type: application/json' \\`,
      `     -d '${JSON.stringify({ email: adminEmail, password: adminPassword })}'`,
      '   then send "Authorization: Bearer <data.accessToken>" (or use Authorize in /docs).',
      ' Ctrl-C stops both services.',
      '────────────────────────────────────────────────────────────────────',
      '',
    ];
    console.log(lines.join('\n'));
  } else {
    console.error('A service did not become healthy in time; stopping.');
    stopAll('SIGTERM', 1);
  }
}
