/** What a {@link Keepalive} does to its connection. */
export interface KeepaliveLink {
  sendPing(id: number): void;
  /** The peer answered none of `missed` PINGs: close the connection. */
  dead(missed: number): void;
  /** A PING was answered after `rttMs`. */
  answered(rttMs: number): void;
}

/**
 * Liveness of one connection. Every `intervalMs` it looks at whether a frame arrived
 * since the last tick (the channel calls {@link heard} per frame: a flag, no clock read).
 * A silent interval sends PING; each further silent interval with a PING unanswered is a
 * missed PONG, and `missLimit` of them declare the peer dead. So a busy connection sends
 * no PINGs at all, and a dead one is found within `intervalMs × (missLimit + 1)`.
 */
export class Keepalive {
  private readonly timer: NodeJS.Timeout;
  private heardSinceTick = false;
  private ping: { id: number; sentAt: number } | undefined;
  private seq = 0;
  private missed = 0;

  constructor(
    intervalMs: number,
    private readonly missLimit: number,
    private readonly link: KeepaliveLink,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs);
    // An idle connection must not keep the process alive on its keepalive alone.
    this.timer.unref();
  }

  /** A frame arrived. */
  heard(): void {
    this.heardSinceTick = true;
  }

  /** A PONG arrived; answers only the PING in flight. */
  pong(id: number): void {
    const ping = this.ping;
    if (ping === undefined || ping.id !== id) return;
    this.ping = undefined;
    this.missed = 0;
    this.link.answered(Date.now() - ping.sentAt);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Sends a PING now (the connection's first frame), unless one is in flight. */
  probe(): void {
    if (this.ping === undefined) this.send();
  }

  private tick(): void {
    if (this.heardSinceTick) {
      this.heardSinceTick = false;
      this.missed = 0;
      return;
    }
    if (this.ping !== undefined && ++this.missed >= this.missLimit) {
      this.stop();
      this.link.dead(this.missed);
      return;
    }
    this.send();
  }

  private send(): void {
    const id = (this.seq = (this.seq % 0xffff_ffff) + 1);
    this.ping = { id, sentAt: Date.now() };
    this.link.sendPing(id);
  }
}
