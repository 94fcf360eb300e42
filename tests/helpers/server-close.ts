import type { Server } from '../../src/index.js';

/**
 * Closes `server` after the clients a test has just closed have gone: waits (at most `ms`)
 * for its connections to end, then `close()`. A server closed while an HTTP/2 client is
 * still closing sends that client its shutdown GOAWAY and PING, which the closing client
 * never answers, so `close()` waited the whole PONG wait of the handshake (1 s) for it;
 * a client that is gone first costs nothing. Only for a test whose clients are closed:
 * with a connection still open, this waits `ms` and then closes as `close()` does.
 */
export async function closeAfterClients(server: Server, ms = 500): Promise<void> {
  for (const end = Date.now() + ms; server.stats().connections.open > 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
  await server.close();
}
