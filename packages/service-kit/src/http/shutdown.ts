import type { Server } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';

/**
 * Until `server` has closed, closes its keep-alive connections as they become idle: Node and Fastify's
 * `forceCloseConnections: 'idle'` close only the ones idle when closing starts, and a connection busy then would keep
 * the server open until its keep-alive timeout (72 s). Fastify has no option for it (`true` cuts requests in flight).
 */
export function closeIdleConnectionsUntilClosed(server: Server): void {
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  sweeper.unref();
  server.once('close', () => clearInterval(sweeper));
}

/**
 * On SIGTERM or SIGINT, runs `stop` once, then exits 0 (1 if it fails or takes longer than `graceMs`). A second
 * signal exits at once.
 */
export function exitOnSignals(logger: FastifyBaseLogger, stop: () => Promise<void>, graceMs: number): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('graceful shutdown timed out');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
