import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { backoffDelay } from '../util/backoff.js';
import { channels } from '../util/diagnostics.js';
import { backoffTimers, type QueuedTimer } from '../util/timer-queue.js';
import { Channel, type ChannelCloseReason } from './channel.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions, type SharedPool } from './client-options.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';

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
class EndpointConnections {
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
  connects = 0;
  calls = 0;
  /** Clients that retain this endpoint (see {@link ConnectionPool.retain}). */
  users = 0;
  private stopped = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ResolvedPoolOptions,
    private readonly isClosed: () => boolean,
  ) {
    this.address = formatEndpoint(endpoint);
    this.slots = new Array<Channel | undefined>(options.enabled ? options.connectionsPerEndpoint : 0).fill(undefined);
  }

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
    // Round robin over the slots; an empty or spent slot gets a new connection.
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % this.slots.length;
    const channel = this.slots[slot];
    if (channel?.usable) return channel; // its lastUsedAt says when the endpoint was last wanted
    this.lastWanted = Date.now();
    return this.open(slot);
  }

  private backoffError(): RpcError {
    const waitMs = this.backoffUntil - Date.now();
    const e = this.lastError;
    const why = e === undefined ? '' : `${e instanceof RpcError ? e.rawMessage : (e as NodeJS.ErrnoException).code ?? e.message} `;
    const failed = `${this.failures} failed connect${this.failures === 1 ? '' : 's'}`;
    return new RpcError(Status.UNAVAILABLE, `cannot connect: ${why}(${failed}; next attempt in ${waitMs} ms)`, { address: this.address, notRun: 'unsent' });
  }

  private open(slot: number | undefined): Channel {
    this.connects++;
    const channel = new Channel(this.endpoint, this.options, {
      ready: () => {
        this.failures = 0;
        this.backoffUntil = 0;
        this.lastError = undefined;
      },
      unusable: (c) => {
        if (slot !== undefined && this.slots[slot] === c) this.slots[slot] = undefined;
        if (c.state !== 'closed' && c.pending.size > 0) this.retiring.add(c);
      },
      closed: (c, reason, error) => {
        this.lastWanted = Math.max(this.lastWanted, c.lastUsedAt);
        this.retiring.delete(c);
        if (slot !== undefined && this.slots[slot] === c) this.slots[slot] = undefined;
        this.onClosed(reason, error);
      },
    }, !this.options.enabled);
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
      // A working connection broke (peer restart, keepalive timeout): try again now;
      // if that fails, backoff takes over.
      this.scheduleReconnect(0);
    }
  }

  /** A background connect after `delayMs`, if the endpoint is still wanted then. */
  private scheduleReconnect(delayMs: number): void {
    if (!this.options.enabled || this.stopped) return;
    this.retryTimer?.cancel();
    this.retryTimer = backoffTimers.schedule(delayMs, () => {
      this.retryTimer = undefined;
      if (this.isClosed() || !this.wanted || this.slots.some((c) => c?.usable)) return;
      this.open(0);
    }, false);
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

  stats(): EndpointStats {
    const open = [...this.slots.filter((c): c is Channel => c !== undefined), ...this.retiring];
    const state: EndpointState = this.inBackoff ? 'backoff' : open.some((c) => c.state === 'ready') ? 'ready' : open.some((c) => c.state === 'connecting') ? 'connecting' : 'idle';
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
    };
  }

  /** Calls in flight over this endpoint's connections (for load balancing). */
  get pending(): number {
    let n = 0;
    for (const c of this.slots) if (c !== undefined) n += c.pending.size;
    for (const c of this.retiring) n += c.pending.size;
    return n;
  }

  channels(): Channel[] {
    return [...this.slots.filter((c): c is Channel => c !== undefined), ...this.retiring];
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }
}

/**
 * Connections to any number of endpoints, shared by the clients given it (`createPool()`
 * and `createClient(..., { pool })`), or private to one client. Each endpoint has
 * `connectionsPerEndpoint` multiplexed connections; unused ones close after `maxIdleMs`.
 */
export class ConnectionPool implements SharedPool {
  readonly options: ResolvedPoolOptions;
  private readonly endpoints = new Map<string, EndpointConnections>();
  private state: 'open' | 'closed' = 'open';
  private idleTimer: NodeJS.Timeout | undefined;

  /** Takes validated options: use {@link createPool}, which validates them. */
  constructor(options: ResolvedPoolOptions) {
    this.options = options;
    if (this.options.enabled && this.options.maxIdleMs > 0) {
      const every = Math.max(10, Math.min(10_000, Math.floor(this.options.maxIdleMs / 2)));
      this.idleTimer = setInterval(() => this.closeIdle(), every);
      this.idleTimer.unref();
    }
  }

  /** True once `close()` or `destroy()` was called. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * A channel to `endpoint` for one call. Throws UNAVAILABLE (marked as never sent) while
   * the endpoint is in reconnect backoff, or once the pool is closed.
   */
  acquire(endpoint: Endpoint, connectNow = false): Channel {
    if (this.state === 'closed') throw new RpcError(Status.UNAVAILABLE, 'connection pool is closed', { address: formatEndpoint(endpoint), notRun: 'unsent' });
    return this.connections(endpoint).acquire(connectNow);
  }

  /**
   * Declares that a client calls `endpoint`. Counted: once no client retains an endpoint
   * any more ({@link release}), its reconnects stop and its connections close after their
   * last calls — an instance gone from a registry is not reconnected forever.
   */
  retain(endpoint: Endpoint): void {
    const entry = this.connections(endpoint);
    entry.users++;
  }

  /**
   * Undoes one {@link retain}. With `dropUnused` (the endpoint left a registry's list), an
   * endpoint no client retains any more stops reconnecting and its connections close
   * after their last calls; otherwise (a client closing) they stay for the pool's other
   * clients until idle.
   */
  release(address: string, dropUnused: boolean): void {
    const entry = this.endpoints.get(address);
    if (entry === undefined || --entry.users > 0 || !dropUnused) return;
    this.endpoints.delete(address);
    entry.stop();
    for (const c of entry.channels()) void c.close();
  }

  /** True while calls to an endpoint would fail fast (reconnect backoff). */
  inBackoff(endpoint: Endpoint | string): boolean {
    return this.endpoints.get(typeof endpoint === 'string' ? endpoint : formatEndpoint(endpoint))?.inBackoff ?? false;
  }

  /** Time until an endpoint may be tried again, in ms (0: now). */
  backoffRemainingMs(endpoint: Endpoint | string): number {
    return this.endpoints.get(typeof endpoint === 'string' ? endpoint : formatEndpoint(endpoint))?.backoffRemainingMs ?? 0;
  }

  /** Calls in flight to an endpoint. */
  pending(endpoint: Endpoint | string): number {
    return this.endpoints.get(typeof endpoint === 'string' ? endpoint : formatEndpoint(endpoint))?.pending ?? 0;
  }

  /** Per endpoint: state, connections, calls in flight, connects, failures, keepalive RTT. */
  stats(): EndpointStats[] {
    return [...this.endpoints.values()].map((e) => e.stats());
  }

  private connections(endpoint: Endpoint): EndpointConnections {
    const key = formatEndpoint(endpoint);
    let entry = this.endpoints.get(key);
    if (entry === undefined) {
      entry = new EndpointConnections(endpoint, this.options, () => this.state === 'closed');
      this.endpoints.set(key, entry);
    }
    return entry;
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const entry of this.endpoints.values()) entry.closeIdle(now);
  }

  /** Closes every connection once its pending calls have settled. */
  async close(): Promise<void> {
    this.state = 'closed';
    clearInterval(this.idleTimer);
    const all: Channel[] = [];
    for (const entry of this.endpoints.values()) {
      entry.stop();
      all.push(...entry.channels());
    }
    await Promise.all(all.map((c) => c.close()));
  }

  /** Closes every connection now, failing pending calls UNAVAILABLE. */
  destroy(): void {
    this.state = 'closed';
    clearInterval(this.idleTimer);
    for (const entry of this.endpoints.values()) {
      entry.stop();
      for (const c of entry.channels()) c.destroy();
    }
  }
}

/** Creates a connection pool that several clients can share (`createClient(..., { pool })`). */
export function createPool(options?: PoolOptions): ConnectionPool {
  return new ConnectionPool(resolvePoolOptions(options));
}
