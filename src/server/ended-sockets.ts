import type { Socket } from 'node:net';

/** How long a socket the server has ended may wait for its peer to close its side before it is destroyed. */
export const LINGER_MS = 1000;

/**
 * The sockets the server has ended (or is ending: an HTTP/2 session that closes once its
 * streams are done) and that wait for their peer to close its side. Destroying one at once
 * can reset the connection (an RST, if the peer's bytes are still unread) before the peer
 * has read the last bytes, the GOAWAY that says why; so each lingers until the peer closes,
 * at most its linger time, while the server runs.
 *
 * Once the server shuts down nobody is left to read that GOAWAY for, and the listening
 * socket's close waits for every socket, lingering ones included: from then on a socket is
 * destroyed as soon as its last bytes are written (its writable side has finished), and
 * whatever is left at the end of the grace is destroyed with the connections.
 */
export class EndedSockets {
  /** Each lingering socket and the timer that destroys it. */
  private readonly lingering = new Map<Socket, NodeJS.Timeout>();
  private shuttingDown = false;

  /**
   * Keeps `socket` until its peer closes, `ms` at most (a socket already kept keeps its
   * first timer); at once if the server is shutting down and its last bytes are written.
   */
  add(socket: Socket, ms: number = LINGER_MS): void {
    if (socket.destroyed || this.lingering.has(socket)) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    this.lingering.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      this.lingering.delete(socket);
    });
    if (this.shuttingDown) destroyWhenWritten(socket);
  }

  /** Shutdown has begun: no socket lingers past its last write from now on. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const socket of this.lingering.keys()) destroyWhenWritten(socket);
  }

  /** End of the shutdown grace: the peers that are not reading lose what is unsent. */
  destroyAll(): void {
    for (const socket of this.lingering.keys()) socket.destroy();
  }
}

function destroyWhenWritten(socket: Socket): void {
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}
