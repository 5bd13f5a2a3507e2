import pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { backoffDelay } from '../backoff.ts';
import { DATABASE_RETRY, rootCause } from './availability.ts';

export interface ReconnectingListenOptions {
  connection: pg.ClientConfig;
  channel: string;
  onNotify: (payload: string) => void;
  logger?: Logger;
}

/**
 * LISTEN on its own connection that reconnects by itself (docs/operations.md, "Reconnection"); notifications sent while
 * away are lost, so each reconnection calls `onNotify('')` once. Resolves after the first attempt; the result stops it.
 */
export async function listenWithReconnect(options: ReconnectingListenOptions): Promise<() => Promise<void>> {
  const { channel, onNotify, logger } = options;
  let stopped = false;
  let current: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;

  /** One connection: resolves true once LISTEN is in place; false if it could not be set up. */
  async function connect(): Promise<boolean> {
    const client = new pg.Client(options.connection);
    let live = false;
    let ended = false;
    // The 'end' event drives reconnection; 'error' must have a listener or Node would crash the process.
    client.on('error', () => undefined);
    client.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    client.once('end', () => {
      ended = true;
      if (!live) return;
      if (current === client) current = undefined;
      if (!stopped) {
        logger?.warn({ channel }, 'database LISTEN connection lost; reconnecting');
        schedule();
      }
    });
    try {
      await client.connect();
      // One statement at a time on this client: nothing else ever queries it.
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (ended) throw new Error('Connection terminated while issuing LISTEN');
    } catch (error) {
      await client.end().catch(() => undefined);
      failures += 1;
      const fields = { channel, database: rootCause(error), attempt: failures };
      // One warning per outage; the attempts after it only at debug level.
      if (failures === 1) logger?.warn(fields, 'database LISTEN connection failed; retrying');
      else logger?.debug(fields, 'database LISTEN connection failed; retrying');
      return false;
    }
    if (stopped) {
      await client.end().catch(() => undefined);
      return true;
    }
    live = true;
    current = client;
    if (failures > 0) logger?.info({ channel, attempts: failures }, 'database LISTEN connection restored');
    failures = 0;
    return true;
  }

  function schedule(): void {
    if (stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void attempt(true);
    }, backoffDelay(Math.max(1, failures), DATABASE_RETRY));
    retryTimer.unref();
  }

  async function attempt(reconnecting: boolean): Promise<void> {
    if (await connect()) {
      // Whatever was notified while the connection was down is lost: have the listener look now.
      if (reconnecting && !stopped) onNotify('');
    } else {
      schedule();
    }
  }

  await attempt(false);
  return async () => {
    stopped = true;
    clearTimeout(retryTimer);
    const client = current;
    current = undefined;
    await client?.end().catch(() => undefined);
  };
}
