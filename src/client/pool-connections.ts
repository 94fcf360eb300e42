import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';
import type { Channel } from './channel.js';
import type { ResolvedPoolOptions } from './client-options.js';
import { EndpointConnections, type EndpointStats } from './endpoint-connections.js';

/**
 * The working part of a {@link ConnectionPool}: its connections by endpoint, and what the
 * clients that use the pool ask of it (a channel for a call, which endpoints are wanted
 * or in backoff). Internal: users hold the `ConnectionPool`, which shows only its
 * options, stats and close; clients reach this through `poolConnections()`.
 */
export class PoolConnections {
  private readonly endpoints = new Map<string, EndpointConnections>();
  private state: 'open' | 'closed' = 'open';
  private readonly idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: ResolvedPoolOptions) {
    if (options.enabled && options.maxIdleMs > 0) {
      const every = Math.max(10, Math.min(10_000, Math.floor(options.maxIdleMs / 2)));
      this.idleTimer = setInterval(() => this.closeIdle(), every);
      this.idleTimer.unref();
    }
  }

  /** True once `close()` or `destroy()` was called. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * A channel to `endpoint` for one call. Throws UNAVAILABLE (with notRun `unsent`) while
   * the endpoint is in reconnect backoff, or once the pool is closed. `address`: the
   * endpoint's `host:port` when the caller has it (spares formatting it per call).
   */
  acquire(endpoint: Endpoint, connectNow = false, address?: string): Channel {
    if (this.state === 'closed') throw new RpcError(Status.UNAVAILABLE, 'connection pool is closed', { address: formatEndpoint(endpoint), notRun: 'unsent' });
    return this.connections(endpoint, address).acquire(connectNow);
  }

  /**
   * Declares that a client calls `endpoint`. Counted: once no client retains an endpoint
   * any more ({@link release}), its reconnects stop and its connections close after their
   * last calls — an instance gone from a registry is not reconnected forever.
   */
  retain(endpoint: Endpoint): void {
    this.connections(endpoint).retain();
  }

  /**
   * Undoes one {@link retain}. With `dropUnused` (the endpoint left a registry's list), an
   * endpoint no client retains any more stops reconnecting and its connections close
   * after their last calls; otherwise (a client closing) they stay for the pool's other
   * clients until idle.
   */
  release(address: string, dropUnused: boolean): void {
    const entry = this.endpoints.get(address);
    if (entry === undefined || !entry.release() || !dropUnused) return;
    this.endpoints.delete(address);
    entry.stop();
    for (const c of entry.channels()) void c.close();
  }

  /** True while calls to an endpoint had better go elsewhere (backoff, or GOAWAY or a broken connection not yet replaced). */
  avoid(address: string): boolean {
    return this.endpoints.get(address)?.avoid ?? false;
  }

  /** A call to `address` ended, with `error` or not (outlier detection). */
  record(address: string, error: RpcError | undefined): void {
    if (this.options.outlierDetection === undefined) return; // all that record() does
    this.endpoints.get(address)?.record(error);
  }

  /** True while calls to an endpoint would fail fast (reconnect backoff). */
  inBackoff(address: string): boolean {
    return this.endpoints.get(address)?.inBackoff ?? false;
  }

  /** Time until an endpoint may be tried again, in ms (0: now). */
  backoffRemainingMs(address: string): number {
    return this.endpoints.get(address)?.backoffRemainingMs ?? 0;
  }

  /** Calls in flight to an endpoint. */
  pending(address: string): number {
    return this.endpoints.get(address)?.pending ?? 0;
  }

  /** Per endpoint: state, connections, calls in flight, connects, failures, keepalive RTT. */
  stats(): EndpointStats[] {
    return [...this.endpoints.values()].map((e) => e.stats());
  }

  private connections(endpoint: Endpoint, address?: string): EndpointConnections {
    const key = address ?? formatEndpoint(endpoint);
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
