import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Node does not count connections that never sent a byte as idle, so server.close() would wait for them for ever
 * (docs/deploy.md, "Signals"); the result destroys them.
 */
export function trackUnusedConnections(server: Server): () => void {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return () => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  };
}
