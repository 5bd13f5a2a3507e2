import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyServerFactory } from 'fastify';
import { DATABASE_RETRY, isDatabaseUnavailable, redactUrl, rootCause, sleep } from './db/availability.ts';
import type { DatabaseHandle } from './db/database.ts';
import { databaseUnavailable, errorBody } from './http/envelope.ts';
import { operationsAccess } from './http/operations-access.ts';
import type { BaseConfig } from './config.ts';
import { closeIdleConnectionsUntilClosed, exitOnSignals } from './http/shutdown.ts';
import { trackUnusedConnections } from './http/unused-connections.ts';
import type { Logger } from './observability/logger.ts';
import { createMetricsRegistry } from './observability/metrics.ts';
import { startTracing, stopTracing } from './observability/tracing.ts';
import { backoffDelay } from './backoff.ts';
import { buildServer, type App } from './server.ts';

export interface StartServiceOptions<A extends App> {
  service: string;
  version: string;
  logger: Logger;
  /** Where to listen, the database URL (only to keep its credentials out of the log) and who may read /metrics and /docs. */
  config: Pick<BaseConfig, 'HOST' | 'DATABASE_URL' | 'NODE_ENV' | 'METRICS_TOKEN' | 'EXPOSE_DOCS'> & { PORT: number };
  /** Opens and migrates the database: one attempt (the kit retries while the database is unreachable). */
  openDatabase: () => Promise<DatabaseHandle>;
  /** Builds the app on the open database; must hand `serverFactory` to the kit's buildServer. */
  buildApp: (database: DatabaseHandle, serverFactory: FastifyServerFactory) => Promise<A>;
  /** How long a shutdown may take before the process exits anyway (default 10 s). */
  graceMs?: number;
  /**
   * false: SIGTERM/SIGINT are the caller's, who stops the service with the result's stop() (several services in one
   * process, as `npm start`); default true: the service stops and exits on them.
   */
  exitOnSignals?: boolean;
}

export interface StartedService<A extends App> {
  app: A;
  database: DatabaseHandle;
  url: string;
  /** Where Swagger UI is, or why it is not served (for the ready log line). */
  docs: string;
  /** Stops serving: in-flight requests finish, then the app's onClose hooks run and the database is closed. */
  stop(): Promise<void>;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** Paths served while the service starts; every other one answers 503 "Database unavailable". */
const STARTING_PATHS = new Set(['/health', '/health/ready', '/metrics']);

/**
 * Runs a service so that it never depends on the database being up first: listens at once with a stand-in app,
 * opens the database with backoff, then serves the real app (docs/operations.md, "Start order: none needed").
 */
export async function startService<A extends App>(options: StartServiceOptions<A>): Promise<StartedService<A>> {
  const { logger } = options;
  // Before any server exists, so that buildServer adds the request spans (off unless OTEL_EXPORTER_OTLP_ENDPOINT).
  await startTracing({ service: options.service, version: options.version, logger });
  let waitingFor = 'connecting to the database';
  const gate = await buildStandIn(options, () => waitingFor);
  let handler: Handler = (request, response) => gate.routing(request, response);
  const server = createServer((request, response) => handler(request, response));
  // What Fastify sets on a server of its own: keep-alive longer than common proxies' (which must close first).
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = 0;
  const closeUnusedConnections = trackUnusedConnections(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.config.PORT, options.config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.config.HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'listening; connecting to the database');

  const abort = new AbortController();
  let started: StartedService<A> | undefined;
  const stop = async () => {
    abort.abort(new Error('shutting down'));
    closeIdleConnectionsUntilClosed(server);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    closeUnusedConnections();
    await closed;
    // Still starting: nothing needs finishing; a connection or a migration in progress ends with the process
    // (the migration's transaction rolls back).
    if (started) {
      await started.app.close();
      await started.database.close();
    }
    await stopTracing(options.service);
  };
  if (options.exitOnSignals !== false) exitOnSignals(logger, stop, options.graceMs ?? 10_000);

  let database: DatabaseHandle | undefined;
  try {
    database = await connect(options, abort.signal, (reason) => (waitingFor = reason));
    waitingFor = 'connected; starting';
    let appHandler: Handler | undefined;
    const app = await options.buildApp(database, (routeRequest) => {
      appHandler = routeRequest;
      return server;
    });
    await app.ready();
    if (!appHandler) throw new Error('buildApp did not pass serverFactory on to buildServer');
    if (abort.signal.aborted) return await new Promise<never>(() => undefined);
    handler = appHandler;
    const docs = operationsAccess(options.config).docs ? `${url}/docs` : 'off (EXPOSE_DOCS)';
    started = { app, database, url, docs, stop };
    await gate.close();
    return started;
  } catch (error) {
    // Shutting down: the signal handler exits the process.
    if (abort.signal.aborted) return await new Promise<never>(() => undefined);
    server.close();
    await database?.close().catch(() => undefined);
    throw error;
  }
}

/** Opens the database, waiting out its unavailability; rejects on any other error, or when aborted. */
async function connect(
  options: StartServiceOptions<App>,
  signal: AbortSignal,
  report: (reason: string) => void,
): Promise<DatabaseHandle> {
  for (let failures = 1; ; failures++) {
    try {
      return await options.openDatabase();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!isDatabaseUnavailable(error)) throw error;
      const cause = rootCause(error);
      const message = redactUrl(cause.message, options.config.DATABASE_URL);
      const retryInMs = backoffDelay(failures, DATABASE_RETRY);
      report(`database not reachable (attempt ${failures}): ${message}`);
      options.logger.warn({ attempt: failures, retryInMs, database: { ...cause, message } }, 'database not reachable; retrying');
      await sleep(retryInMs, signal);
    }
  }
}

/** The kit's server with health, metrics and the envelope, but no routes: what answers while the service starts. */
async function buildStandIn(options: StartServiceOptions<App>, waitingFor: () => string): Promise<App> {
  const app = await buildServer({
    service: options.service,
    version: options.version,
    description: 'starting',
    logger: options.logger,
    metrics: createMetricsRegistry(options.service),
    operations: operationsAccess(options.config),
    readiness: {
      database: () => Promise.reject(new Error(waitingFor())),
    },
  });
  app.addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?', 1)[0]!.replace(/\/+$/, '');
    if (STARTING_PATHS.has(path)) return done();
    const unavailable = databaseUnavailable();
    void reply.code(503).header('retry-after', '1').send(errorBody(unavailable.message, unavailable.errors));
  });
  await app.ready();
  return app;
}
