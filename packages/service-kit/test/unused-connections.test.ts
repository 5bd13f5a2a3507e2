import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { trackUnusedConnections } from '../src/http/unused-connections.ts';

describe('trackUnusedConnections', () => {
  it('lets server.close() finish although a client connected and never sent a byte', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    const closeUnused = trackUnusedConnections(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const silent = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => silent.once('connect', resolve));
    const used = await fetch(`http://127.0.0.1:${port}/`);
    expect(await used.text()).toBe('ok');

    let closed = false;
    const closing = new Promise<void>((resolve) => server.close(() => resolve())).then(() => (closed = true));
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Node leaves the silent connection open: without the helper, close() never finishes.
    expect(closed).toBe(false);
    closeUnused();
    await closing;
    expect(closed).toBe(true);
    silent.destroy();
  });
});
