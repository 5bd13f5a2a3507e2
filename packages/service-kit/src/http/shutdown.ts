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
 * On SIGTERM or SIGINT, runs `stop` once, then exits 0 (1 if it fails or takes longer than `graceMs`). Another
 * signal more than 2 s later exits at once (Ctrl-C under npm arrives twice: from the terminal and forwarded by npm).
 */
export function exitOnSignals(logger: FastifyBaseLogger, stop: () => Promise<void>, graceMs: number): void {
  let closing = 0;
  const shutdown = (signal: string) => {
    if (closing) {
      if (Date.now() - closing > 2_000) process.exit(1);
      return;
    }
    closing = Date.now();
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
