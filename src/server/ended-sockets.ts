import type { Socket } from 'node:net';

/** How long a socket the server has ended may wait for its peer to close its side before it is destroyed. */
export const LINGER_MS = 1000;

/**
 * The sockets the server has ended (or is ending: an HTTP/2 session that closes once its
 * streams are done) and that wait for their peer to close its side. Destroying one at once
 * can reset the connection (an RST, if the peer's bytes are still unread or it sends more)
 * before the peer has read the last bytes: the GOAWAY that says why, or, in a shutdown, the
 * last answers. So each lingers, reading and dropping what the peer still sends, until the
 * peer closes, at most its linger time.
 *
 * A shutdown does not wait for them, though: once a lingering socket's last bytes are
 * written it no longer holds the process open (`unref`), and {@link whenOnlyWritten} tells
 * the server when every socket left is such a one, so its shutdown ends there instead of
 * when the listening socket's close has seen every socket go.
 */
export class EndedSockets {
  /** Each lingering socket and the timer that destroys it. */
  private readonly lingering = new Map<Socket, NodeJS.Timeout>();
  /** Of those, the ones whose last bytes are written. */
  private readonly written = new Set<Socket>();
  private shuttingDown = false;
  /** Told whenever a lingering socket finishes writing or goes (a shutdown's check). */
  private onChange: (() => void) | undefined;

  /** Keeps `socket` until its peer closes, `ms` at most (a socket already kept keeps its first timer). */
  add(socket: Socket, ms: number = LINGER_MS): void {
    if (socket.destroyed || this.lingering.has(socket)) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    this.lingering.set(socket, timer);
    socket.resume(); // read and drop what the peer still sends: unread input would make the close a reset
    socket.once('close', () => {
      clearTimeout(timer);
      this.lingering.delete(socket);
      this.written.delete(socket);
      this.onChange?.();
    });
    if (socket.writableFinished) this.finished(socket);
    else socket.once('finish', () => this.finished(socket));
  }

  /**
   * Shutdown has begun: calls `check` now and whenever a lingering socket finishes writing
   * or goes, with the number of sockets that linger with nothing left to write (the server
   * compares it with its open sockets).
   */
  whenOnlyWritten(check: (written: number) => void): void {
    this.shuttingDown = true;
    for (const socket of this.written) socket.unref();
    this.onChange = () => check(this.written.size);
    this.onChange();
  }

  /** End of the shutdown grace: the peers that are not reading lose what is unsent. */
  destroyAll(): void {
    for (const socket of this.lingering.keys()) socket.destroy();
  }

  private finished(socket: Socket): void {
    if (!this.lingering.has(socket)) return;
    this.written.add(socket);
    if (this.shuttingDown) socket.unref();
    this.onChange?.();
  }
}
