import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createLogger, openDatabase, type DatabaseDriver, type DatabaseHandle } from '@shop/service-kit';
import { createTestDatabase, uniqueEmail, type TestDatabase } from '@shop/service-kit/testing';
import { buildApp, MIGRATIONS_FOLDER, MIGRATIONS_TABLE, type AthsApp, type BuildAppDeps } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';

export const API_KEY = 'test-service-key-0123456789abcdef0123';
export const PASSWORD = 'Secret123';

export interface ReceivedMail {
  to: string[];
  raw: string;
  /** Body with quoted-printable soft line breaks removed. */
  text: string;
}

/** A real SMTP server on a random port that keeps every message it receives. */
export async function startSmtp() {
  const messages: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  let delayMs = 0;
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const finish = () => {
          messages.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            raw,
            text: raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='),
          });
          for (const wake of waiters.splice(0)) wake();
          callback();
        };
        if (delayMs > 0) setTimeout(finish, delayMs);
        else finish();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;

  async function waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs = 5_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no matching mail arrived');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor,
    /** Mail to one address with a token line, e.g. `Verification token` or `Reset token`. */
    async tokenFor(address: string, label: 'Verification token' | 'Reset token', after = 0): Promise<string> {
      const mail = await waitFor(
        (m) => m.to.includes(address.toLowerCase()) && m.text.includes(`${label}:`) && messages.indexOf(m) >= after,
      );
      const match = new RegExp(`${label}: ([A-Za-z0-9_-]+)`).exec(mail.text);
      if (!match) throw new Error('no token in mail');
      return match[1]!;
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    /** SMTP connections opened so far (sending and checks alike). */
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Smtp = Awaited<ReturnType<typeof startSmtp>>;

export interface TestAths {
  app: AthsApp;
  database: DatabaseHandle;
  testDb: TestDatabase;
  close(): Promise<void>;
}

/** One database + one app (per describe block: PGlite's start costs seconds). */
export async function startAths(
  driver: DatabaseDriver,
  env: Record<string, string> = {},
  deps: BuildAppDeps = {},
): Promise<TestAths> {
  const testDb = await createTestDatabase(driver, 'aths');
  const database = await openDatabase({
    url: testDb.url,
    defaultDir: '',
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: MIGRATIONS_TABLE,
  });
  const app = await buildTestApp(database, env, deps);
  return {
    app,
    database,
    testDb,
    async close() {
      await app.close();
      await database.close();
      await testDb.drop();
    },
  };
}

/** An app with the test configuration (plus `env`) on an open database; another instance when the database is shared. */
export async function buildTestApp(database: DatabaseHandle, env: Record<string, string> = {}, deps: BuildAppDeps = {}): Promise<AthsApp> {
  const config = loadAthsConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_ENABLED: 'false',
    SERVICE_API_KEYS: `${API_KEY},second-key`,
    ...env,
  });
  const app = await buildApp(config, {
    database,
    logger: createLogger({ service: 'aths', level: env.LOG_LEVEL ?? 'silent', pretty: false }),
    ...deps,
  });
  await app.ready();
  return app;
}

export { uniqueEmail };

export function registration(overrides: Record<string, unknown> = {}) {
  return {
    email: uniqueEmail(),
    password: PASSWORD,
    fullName: 'Ada Lovelace',
    contactNumber: '+44 20 7946 0000',
    ...overrides,
  };
}

export async function register(app: AthsApp, overrides: Record<string, unknown> = {}) {
  const body = registration(overrides);
  const res = await app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const data = res.json().data as { user: { _id: string; email: string; role: string }; accessToken: string; refreshToken: string };
  return { ...data, email: body.email, password: body.password };
}

export async function login(app: AthsApp, email: string, password = PASSWORD) {
  return app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** An Administrator created directly through the service, then signed in. */
export async function adminSession(app: AthsApp, email = uniqueEmail('admin')) {
  const user = await app.aths.registration.createUser(
    { email, password: PASSWORD, fullName: 'Grace Hopper', contactNumber: '0123456789', role: 'Administrator', emailVerified: true },
    { sendVerification: false },
  );
  const res = await login(app, email);
  return { user, email, accessToken: res.json().data.accessToken as string, refreshToken: res.json().data.refreshToken as string };
}
