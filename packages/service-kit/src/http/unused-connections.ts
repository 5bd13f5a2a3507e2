import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Tracks connections that have not sent a byte yet. Node does not count them as idle, so closeIdleConnections()
 * leaves them open and server.close() waits for them for ever: a port forwarder's or load balancer's pre-opened
 * connection (podman's, in the container test) kept SIGTERM from finishing. The result destroys them; nothing is in
 * flight on such a connection.
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
