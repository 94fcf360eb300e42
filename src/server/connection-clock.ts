import { FrameType } from '../protocol/constants.js';
import type { ResolvedServerOptions } from './server-options.js';

/** Why the sweep closes a connection, and the words for it. */
export interface SweepVerdict {
  readonly reason: 'write-stalled' | 'frame-timeout' | 'first-frame-timeout' | 'idle';
  readonly message: string;
}

/** What the clock needs to know of its connection at a sweep. */
export interface ConnectionNow {
  /** Taking requests (`open`, or `quiescing` during shutdown's first step). */
  readonly taking: boolean;
  /** `open`: idle eviction and the first-frame rule apply only then. */
  readonly open: boolean;
  /** Calls in flight: a connection waiting on its own calls is not idle. */
  readonly busy: boolean;
  readonly bufferedBytes: number;
  readonly unsentBytes: number;
}

/**
 * The times one connection is judged by: when it was accepted, when its partial frame
 * began, when its writes stalled, whether it ever spoke, and whether it sent a frame since
 * the last sweep. Frames and reads only set fields (no clock read per frame); the periodic
 * sweep turns them into a verdict: the peer stopped reading (`writeTimeoutMs`), a frame
 * took too long (`frameTimeoutMs`, slowloris), it never spoke (`firstFrameTimeoutMs`), or
 * it is idle.
 */
export class ConnectionClock {
  readonly openedAt = Date.now();
  /**
   * When the current chunk was read: the start of the deadline of every request in it
   * (spec: timeout_ms counts "from when it has read the frame"), so a request queued
   * behind a slow inline handler in the same read does not get extra time.
   */
  readAt = 0;
  /** The same moment as `performance.now()`, the start of each request's latency. */
  readAtMono = 0;
  /** Set on every complete frame but a PONG; the sweep reads and clears it. */
  private sawFrame = false;
  private lastActive = Date.now();
  /** When the partial frame now buffered started to arrive (0: none buffered). */
  private partialSince = 0;
  /** Since when writes wait for 'drain' (0: they do not). */
  private stalledSince = 0;
  /** True once a REQUEST, ONEWAY or PING arrived. */
  private greeted = false;

  constructor(private readonly options: Pick<ResolvedServerOptions, 'frameTimeoutMs' | 'firstFrameTimeoutMs' | 'writeTimeoutMs'>) {}

  /** A chunk is being read: its time on both clocks (epoch ms returned). */
  stamp(): number {
    this.readAtMono = performance.now();
    this.readAt = Date.now();
    return this.readAt;
  }

  /** A chunk was read; `partial`: part of a frame is now buffered. */
  read(now: number, partial: boolean): void {
    this.readAt = now;
    if (!partial) this.partialSince = 0;
    else if (this.partialSince === 0) this.partialSince = now;
  }

  /** A whole frame arrived. */
  frame(type: number): void {
    // A PONG answers our own PING: it says the peer is alive, not that it uses the
    // connection, so it does not hold off idle eviction.
    if (type !== FrameType.PONG) this.sawFrame = true;
    if (type === FrameType.REQUEST || type === FrameType.ONEWAY || type === FrameType.PING) this.greeted = true;
  }

  /** Writes stall (true: since now, unless already) or drain (false). */
  stall(stalled: boolean): void {
    this.stalledSince = stalled ? this.stalledSince || Date.now() : 0;
  }

  get stalled(): boolean {
    return this.stalledSince !== 0;
  }

  /** What the sweep at `now` does with the connection: nothing (undefined), or close it. */
  verdict(now: number, idleMs: number, c: ConnectionNow): SweepVerdict | undefined {
    const { frameTimeoutMs, firstFrameTimeoutMs, writeTimeoutMs } = this.options;
    if (this.stalledSince !== 0 && now - this.stalledSince >= writeTimeoutMs) {
      return {
        reason: 'write-stalled',
        message: `peer is not reading: ${c.unsentBytes} bytes unsent for ${now - this.stalledSince} ms (writeTimeoutMs ${writeTimeoutMs})`,
      };
    }
    if (this.partialSince !== 0 && now - this.partialSince >= frameTimeoutMs && c.taking) {
      return {
        reason: 'frame-timeout',
        message: `frame incomplete after ${now - this.partialSince} ms (${c.bufferedBytes} bytes in; frameTimeoutMs ${frameTimeoutMs})`,
      };
    }
    if (!this.greeted && now - this.openedAt >= firstFrameTimeoutMs && c.open) {
      return {
        reason: 'first-frame-timeout',
        message: `no REQUEST, ONEWAY or PING within ${now - this.openedAt} ms of connecting (firstFrameTimeoutMs ${firstFrameTimeoutMs})`,
      };
    }
    if (this.sawFrame || c.busy) {
      this.sawFrame = false;
      this.lastActive = now;
      return undefined;
    }
    if (c.open && now - this.lastActive >= idleMs) return { reason: 'idle', message: `no frame for ${now - this.lastActive} ms` };
    return undefined;
  }
}
