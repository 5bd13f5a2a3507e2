/**
 * `npm start`: both services in this one process, on one embedded PGlite database under ./data/pglite (each service
 * its own tables and migration journal), dev secrets kept in ./data/dev-secrets.json, wired to each other, a first
 * administrator; Ctrl-C stops both, one failing stops the other. Why one process: README "What `npm start` costs".
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
// The kit's database module alone, not the kit: the embedded database starts opening before the services' modules load.
import { isPostgresUrl, leaseEmbeddedDatabase } from '../packages/service-kit/src/db/database.ts';

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
  const stored: Partial<DevSecrets> = existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, 'utf8')) as Partial<DevSecrets>) : {};
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

/**
 * Where each service's data lives: one shared PGlite directory, unless ./data holds the two directories of earlier
 * versions (./data/aths, ./data/crms) and no shared one, which are kept in use as they are (docs/operations.md).
 */
function databaseLocations(): { aths: string; crms: string; legacy: boolean } {
  const shared = join(dataDir, 'pglite');
  const legacy = !existsSync(shared) && ['aths', 'crms'].some((name) => existsSync(join(dataDir, name, 'PG_VERSION')));
  return {
    aths: env.ATHS_DATABASE_URL ?? (legacy ? join(dataDir, 'aths') : shared),
    crms: env.CRMS_DATABASE_URL ?? (legacy ? join(dataDir, 'crms') : shared),
    legacy,
  };
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
const databases = databaseLocations();
if (databases.legacy) {
  console.warn(
    `Using the per-service databases of an earlier version, or of the services run alone (${join(dataDir, 'aths')}, ${join(dataDir, 'crms')}): two embedded ` +
      'PostgreSQL instances, about 150 MB more than one. docs/operations.md "Embedded database" says how to move to one.',
  );
}

const common: NodeJS.ProcessEnv = { ...env, NODE_ENV: env.NODE_ENV ?? 'development', HOST: host };
// Variables that mean something different per service are set explicitly for each.
delete common.PORT;
delete common.DATABASE_URL;
delete common.SERVICE_API_KEYS;

const athsEnv: NodeJS.ProcessEnv = {
  ...common,
  PORT: String(athsPort),
  DATABASE_URL: databases.aths,
  SERVICE_API_KEYS: athsKey,
  CRMS_BASE_URL: crmsUrl,
  CRMS_SERVICE_API_KEY: crmsKey,
  ADMIN_EMAIL: adminEmail,
  ADMIN_PASSWORD: adminPassword,
};
const crmsEnv: NodeJS.ProcessEnv = {
  ...common,
  PORT: String(crmsPort),
  DATABASE_URL: databases.crms,
  SERVICE_API_KEYS: crmsKey,
  ATHS_BASE_URL: athsUrl,
  ATHS_SERVICE_API_KEY: athsKey,
};

// Opened (after initdb if new) while the services' modules load; released once the services hold it.
const preopened = [...new Set([databases.aths, databases.crms])]
  .filter((location) => !isPostgresUrl(location))
  .map((location) => leaseEmbeddedDatabase(location).catch(() => undefined)); // a failure is the services' to report
const [{ startAths }, { startCrms }] = await Promise.all([import('../services/aths/src/start.ts'), import('../services/crms/src/start.ts')]);

const running: Array<() => Promise<void>> = [];
let stopping = false;

let stoppingSince = 0;

/** Stops both services (in-flight requests finish, then the shared database closes), then exits. */
function stopAll(exitCode: number): void {
  // Ctrl-C reaches this process twice (from the terminal, and forwarded by npm): only a later signal means "now".
  if (stopping) {
    if (Date.now() - stoppingSince > 2_000) process.exit(exitCode || 1);
    return;
  }
  stopping = true;
  stoppingSince = Date.now();
  if (exitCode === 0) console.log('\nStopping ATHS and CRMS…');
  setTimeout(() => process.exit(exitCode || 1), 15_000).unref();
  void Promise.allSettled(running.map((stop) => stop())).then((results) =>
    process.exit(results.some((result) => result.status === 'rejected') ? exitCode || 1 : exitCode),
  );
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

async function start(name: string, run: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  try {
    const started = await run();
    running.push(() => started.stop());
    if (stopping) await started.stop();
  } catch (error) {
    console.error(`\n${name} failed to start: ${(error as Error).stack ?? String(error)}\nStopping the other service.`);
    stopAll(1);
    throw error;
  }
}

const started = await Promise.allSettled([
  start('ATHS', () => startAths(athsEnv, { exitOnSignals: false })),
  start('CRMS', () => startCrms(crmsEnv, { exitOnSignals: false })),
]);
for (const lease of preopened) void lease.then((held) => held?.release());
if (!stopping && started.every((result) => result.status === 'fulfilled')) {
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
}
