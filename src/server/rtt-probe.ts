/**
 * The server's keepalive PING on one connection, to measure the round trip (clients
 * answer from their reactor, so it includes their event-loop delay). One PING per
 * `intervalMs` at most; dead peers are found by idle eviction, not by this, so an
 * unanswered PING is simply replaced by the next.
 */
export class RttProbe {
  /** Round trip of the last PING answered, in ms. */
  rttMs: number | undefined;
  private pending: { readonly id: number; readonly sentAt: number } | undefined;
  private lastSentAt = Date.now();
  private ids = 0;

  constructor(private readonly intervalMs: number) {}

  /** The id of a PING to send now, or undefined when one went out less than `intervalMs` ago. */
  due(now: number): number | undefined {
    if (now - this.lastSentAt < this.intervalMs) return undefined;
    this.lastSentAt = now;
    this.ids = (this.ids % 0x7fff_ffff) + 1;
    this.pending = { id: this.ids, sentAt: performance.now() };
    return this.ids;
  }

  /** A PONG arrived: its round trip in ms when it answers the PING in flight, else undefined. */
  answered(id: number): number | undefined {
    if (this.pending === undefined || this.pending.id !== id) return undefined;
    this.rttMs = performance.now() - this.pending.sentAt;
    this.pending = undefined;
    return this.rttMs;
  }
}
