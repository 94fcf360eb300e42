import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';
import { backoffDelay } from '../util/backoff.js';
import { channels } from '../util/diagnostics.js';
import { backoffTimers, type QueuedTimer } from '../util/timer-queue.js';
import { Channel } from './channel.js';
import { readingConnection } from './read-affinity.js';
import type { ChannelCloseReason } from './channel-close.js';
import type { ResolvedPoolOptions } from './client-options.js';

/**
 * The state of an endpoint as the pool sees it:
 * - `idle`: no connection (none needed yet, or closed after `maxIdleMs`);
 * - `connecting`: a connection is being established and none is ready;
 * - `ready`: at least one connection is ready;
 * - `backoff`: connects failed; calls fail fast until the next attempt.
 */
export type EndpointState = 'idle' | 'connecting' | 'ready' | 'backoff';

/** What the pool knows of one endpoint. */
export interface EndpointStats {
  readonly address: string;
  readonly state: EndpointState;
  /** Open connections (ready, connecting or draining their last calls). */
  readonly connections: number;
  /** Calls in flight over all of them. */
  readonly pending: number;
  /** TCP connects started since the pool was created. */
  readonly connects: number;
  /** Calls (attempts) sent to the endpoint since the pool was created. */
  readonly calls: number;
  /** Consecutive failed connects (0 once one succeeds). */
  readonly failures: number;
  /** Round-trip time of the last keepalive PING answered, in ms. */
  readonly rttMs: number | undefined;
  /** Time left of an outlier-detection ejection, in ms (0: not ejected; probing counts as 0). */
  readonly ejectedMs: number;
  /** Time left in backoff, in ms (0 when not in backoff). */
  readonly backoffMs: number;
}

/**
 * The connections of a pool to one endpoint: `connectionsPerEndpoint` slots, each a
 * multiplexed {@link Channel}, opened on demand and reopened when lost.
 *
 * Reconnects: a ready connection that is lost is reopened at once; a connect that fails
 * puts the endpoint in backoff (exponential, jittered, capped), during which calls fail
 * fast with UNAVAILABLE instead of each opening a socket — one failing endpoint costs one
 * connect per backoff period, however many calls arrive. While the endpoint is wanted
 * (used within `maxIdleMs`), a background attempt is made when each backoff ends.
 */
export class EndpointConnections {
  readonly address: string;
  private readonly slots: Array<Channel | undefined>;
  /** Channels that stopped taking calls but still have calls to answer. */
  private readonly retiring = new Set<Channel>();
  private nextSlot = 0;
  private failures = 0;
  private backoffUntil = 0;
  private lastError: Error | undefined;
  private retryTimer: QueuedTimer | undefined;
  private lastWanted = Date.now();
  private connects = 0;
  private calls = 0;
  /** Clients that retain this endpoint (see {@link PoolConnections.retain}). */
  private users = 0;
  private stopped = false;
  /** A GOAWAY or a broken connection since the last connection became ready (see {@link avoid}). */
  private interrupted = false;
  /** Outlier detection: failed calls in a row, ejections in a row, and until when it is ejected. */
  private consecutiveFailures = 0;
  private ejections = 0;
  private ejectedUntil = 0;

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ResolvedPoolOptions,
    private readonly isClosed: () => boolean,
  ) {
    this.address = formatEndpoint(endpoint);
    this.slots = new Array<Channel | undefined>(options.enabled ? options.connectionsPerEndpoint : 0).fill(undefined);
  }

  /** Counts one more client that calls this endpoint. */
  retain(): void {
    this.users++;
  }

  /** Counts one client fewer; returns true when none is left. */
  release(): boolean {
    return --this.users <= 0;
  }

  /**
   * True while calls to this endpoint had better go elsewhere: it is in backoff, or its
   * server sent GOAWAY or its connection broke, and no new connection is ready yet (a
   * server restarting refuses connects for a while; a call routed there would wait or fail).
   */
  get avoid(): boolean {
    return this.inBackoff || this.ejected || (this.interrupted && !this.slots.some((c) => c?.state === 'ready'));
  }

  /** Ejected by outlier detection, or back from it and probing: one call at a time until one succeeds. */
  private get ejected(): boolean {
    if (this.ejectedUntil === 0) return false;
    return this.ejectedUntil > Date.now() || this.pending > 0;
  }

  /**
   * A call to this endpoint ended: outlier detection counts DEADLINE_EXCEEDED and
   * UNAVAILABLE in a row (a hung or failing server; connect failures have their backoff)
   * and ejects the endpoint for a while once there are enough; any other outcome resets it.
   */
  record(error: RpcError | undefined): void {
    const policy = this.options.outlierDetection;
    if (policy === undefined) return;
    const failed = error !== undefined && error.notRun !== 'unsent' && (error.code === Status.DEADLINE_EXCEEDED || error.code === Status.UNAVAILABLE);
    if (!failed) {
      if (error?.code === Status.CANCELLED) return;
      this.consecutiveFailures = 0;
      // (No clock read for the common answer, from an endpoint never ejected.)
      if (this.ejectedUntil !== 0 && this.ejectedUntil <= Date.now()) {
        this.ejectedUntil = 0; // the probe was answered: back in rotation
        this.ejections = 0;
      }
      return;
    }
    const now = Date.now();
    if (this.ejectedUntil > now) return; // a call sent before the ejection
    const probeFailed = this.ejectedUntil !== 0;
    if (++this.consecutiveFailures < policy.consecutiveFailures && !probeFailed) return;
    const ejectionMs = Math.min(policy.maxEjectionMs, policy.baseEjectionMs * 2 ** this.ejections++);
    this.ejectedUntil = now + ejectionMs;
    this.consecutiveFailures = 0;
    if (channels.clientEjection.hasSubscribers) channels.clientEjection.publish({ address: this.address, ejectionMs, error });
  }

  /** True while calls fail fast: the last connects failed and the backoff has not ended. */
  get inBackoff(): boolean {
    return this.backoffUntil !== 0 && this.backoffUntil > Date.now(); // no clock read on the common path
  }

  /** Time until the next connect attempt is allowed, in ms (0: now). */
  get backoffRemainingMs(): number {
    return Math.max(0, this.backoffUntil - Date.now());
  }

  /**
   * A channel for one call: the next slot in turn, (re)opened if needed. In backoff it
   * fails fast, unless `connectNow` (the balancer kept this endpoint in rotation despite
   * its failures): then it tries a connect, or joins one already under way.
   */
  acquire(connectNow = false): Channel {
    if (this.inBackoff) {
      this.lastWanted = Date.now();
      if (!connectNow) throw this.backoffError();
      for (const c of this.slots) {
        if (c?.usable) {
          this.calls++;
          return c;
        }
      }
    }
    this.calls++;
    if (!this.options.enabled) return this.open(undefined);
    const reader = this.readerToStay();
    if (reader !== undefined) return reader;
    // Round robin over the slots; an empty or spent slot gets a new connection.
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % this.slots.length;
    const channel = this.slots[slot];
    if (channel?.usable) return channel; // its lastUsedAt says when the endpoint was last wanted
    this.lastWanted = Date.now();
    return this.open(slot);
  }

  /**
   * The connection whose answers are being handled, when it is one of this endpoint's and
   * holds no more than its share of the calls in flight: a call started by an answer goes
   * out where the answer came from (see `read-affinity.ts`), so that the calls started by
   * one read leave in one write. The share keeps the spread: a burst of calls started by
   * one answer goes round the connections as before.
   */
  private readerToStay(): Channel | undefined {
    const reader = readingConnection();
    if (reader === undefined) return undefined;
    let total = 0;
    let mine: Channel | undefined;
    for (const c of this.slots) {
      if (c === undefined) continue;
      if (c === reader) mine = c;
      total += c.pending.size;
    }
    if (mine === undefined || !mine.usable || mine.pending.size * this.slots.length > total) return undefined;
    return mine;
  }

  private backoffError(): RpcError {
    const waitMs = this.backoffUntil - Date.now();
    const e = this.lastError;
    const why = e === undefined ? '' : `${e instanceof RpcError ? e.rawMessage : ((e as NodeJS.ErrnoException).code ?? e.message)} `;
    const failed = `${this.failures} failed connect${this.failures === 1 ? '' : 's'}`;
    return new RpcError(Status.UNAVAILABLE, `cannot connect: ${why}(${failed}; next attempt in ${waitMs} ms)`, { address: this.address, notRun: 'unsent' });
  }

  private open(slot: number | undefined): Channel {
    this.connects++;
    const channel = new Channel(
      this.endpoint,
      this.options,
      {
        heard: () => {
          // Only a connection the server answered resets the backoff: one it closes right
          // after the handshake (a refused client certificate) is a failed connect.
          this.failures = 0;
          this.backoffUntil = 0;
          this.lastError = undefined;
          this.interrupted = false;
        },
        unusable: (c) => {
          if (c.goneAway) {
            // Its server is shutting down: calls go elsewhere while a connection is tried in
            // the background (a restart on the same address is back within backoff).
            this.interrupted = true;
            this.scheduleReconnect(0);
          }
          if (slot !== undefined && this.slots[slot] === c) this.slots[slot] = undefined;
          if (c.state !== 'closed' && c.pending.size > 0) this.retiring.add(c);
        },
        closed: (c, reason, error) => {
          this.lastWanted = Math.max(this.lastWanted, c.lastUsedAt);
          this.retiring.delete(c);
          if (slot !== undefined && this.slots[slot] === c) this.slots[slot] = undefined;
          this.onClosed(reason, error);
        },
      },
      !this.options.enabled,
    );
    if (slot !== undefined) this.slots[slot] = channel;
    else this.retiring.add(channel); // a single-use channel: tracked only so close() finds it
    return channel;
  }

  private onClosed(reason: ChannelCloseReason, error: Error | undefined): void {
    if (this.isClosed()) return;
    if (reason === 'connect-failed' || reason === 'refused') {
      // Several slots failing in one burst are one failure, not several: the backoff
      // grows per attempt round, not per socket.
      if (this.inBackoff) return;
      this.failures++;
      this.lastError = error;
      const delayMs = backoffDelay(this.options.reconnect, this.failures);
      this.backoffUntil = Date.now() + delayMs;
      if (channels.clientBackoff.hasSubscribers) channels.clientBackoff.publish({ address: this.address, failures: this.failures, delayMs, error });
      this.scheduleReconnect(delayMs);
    } else if (reason === 'lost') {
      this.interrupted = true;
      // A working connection broke (peer restart, keepalive timeout): try again now;
      // if that fails, backoff takes over.
      this.scheduleReconnect(0);
    }
  }

  /** A background connect after `delayMs`, if the endpoint is still wanted then. */
  private scheduleReconnect(delayMs: number): void {
    if (!this.options.enabled || this.stopped) return;
    this.retryTimer?.cancel();
    this.retryTimer = backoffTimers.schedule(
      delayMs,
      () => {
        this.retryTimer = undefined;
        if (this.isClosed() || !this.wanted || this.slots.some((c) => c?.usable)) return;
        this.open(0);
      },
      false,
    );
  }

  private get wanted(): boolean {
    return this.options.maxIdleMs === 0 || Date.now() - this.lastWanted < this.options.maxIdleMs;
  }

  /** Closes channels that have had no call for `maxIdleMs`. */
  closeIdle(now: number): void {
    if (this.options.maxIdleMs === 0) return;
    for (let i = 0; i < this.slots.length; i++) {
      const channel = this.slots[i];
      if (channel !== undefined && channel.pending.size === 0 && now - channel.lastUsedAt >= this.options.maxIdleMs) {
        this.slots[i] = undefined;
        void channel.close();
      }
    }
  }

  /** What the pool reports of this endpoint ({@link ConnectionPool.stats}). */
  stats(): EndpointStats {
    const open = [...this.slots.filter((c): c is Channel => c !== undefined), ...this.retiring];
    const state: EndpointState = this.inBackoff
      ? 'backoff'
      : open.some((c) => c.state === 'ready')
        ? 'ready'
        : open.some((c) => c.state === 'connecting')
          ? 'connecting'
          : 'idle';
    return {
      address: this.address,
      state,
      connections: open.length,
      pending: open.reduce((n, c) => n + c.pending.size, 0),
      connects: this.connects,
      calls: this.calls,
      failures: this.failures,
      rttMs: open.find((c) => c.rttMs !== undefined)?.rttMs,
      backoffMs: Math.max(0, this.backoffUntil - Date.now()),
      ejectedMs: Math.max(0, this.ejectedUntil - Date.now()),
    };
  }

  /** Calls in flight over this endpoint's connections (for load balancing). */
  get pending(): number {
    let n = 0;
    for (const c of this.slots) if (c !== undefined) n += c.pending.size;
    for (const c of this.retiring) n += c.pending.size;
    return n;
  }

  /** Every open channel: the slots' and those retiring. */
  channels(): Channel[] {
    return [...this.slots.filter((c): c is Channel => c !== undefined), ...this.retiring];
  }

  /** Stops reconnecting (the pool is closing, or no client calls the endpoint any more). */
  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }
}
