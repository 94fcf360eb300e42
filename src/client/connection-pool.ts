import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions, type SharedPool } from './client-options.js';
import type { EndpointStats } from './endpoint-connections.js';
import { PoolConnections } from './pool-connections.js';

let connectionsOf: (pool: object) => PoolConnections | undefined;

/**
 * Connections to any number of endpoints, shared by the clients given it (`createPool()`
 * and `createClient(..., { pool })`), or private to one client. Each endpoint has
 * `connectionsPerEndpoint` multiplexed connections; unused ones close after `maxIdleMs`.
 *
 * This is the pool as users see it: its options, stats and close. What clients ask of
 * it (a channel per call, backoff state) is in a private field that only client/
 * reaches, through {@link poolConnections}.
 */
export class ConnectionPool implements SharedPool {
  readonly options: ResolvedPoolOptions;
  readonly #connections: PoolConnections;

  static {
    connectionsOf = (pool) => (#connections in pool ? pool.#connections : undefined);
  }

  /**
   * Takes validated options: use {@link createPool}, which validates them.
   * @internal
   */
  constructor(options: ResolvedPoolOptions) {
    this.options = options;
    this.#connections = new PoolConnections(options);
  }

  /** True once `close()` or `destroy()` was called. */
  get isClosed(): boolean {
    return this.#connections.isClosed;
  }

  /** Per endpoint: state, connections, calls in flight, connects, failures, keepalive RTT. */
  stats(): EndpointStats[] {
    return this.#connections.stats();
  }

  /** Closes every connection once its pending calls have settled. */
  close(): Promise<void> {
    return this.#connections.close();
  }

  /** Closes every connection now, failing pending calls UNAVAILABLE. */
  destroy(): void {
    this.#connections.destroy();
  }
}

/** Creates a connection pool that several clients can share (`createClient(..., { pool })`). */
export function createPool(options?: PoolOptions): ConnectionPool {
  return new ConnectionPool(resolvePoolOptions(options));
}

/**
 * The working part of `pool`, for the clients that use it. Anything not made by
 * {@link createPool} is INVALID_ARGUMENT.
 * @internal
 */
export function poolConnections(pool: SharedPool): PoolConnections {
  const connections = connectionsOf(pool);
  if (connections === undefined) throw new RpcError(Status.INVALID_ARGUMENT, 'options.pool must be pool options or a pool from createPool()');
  return connections;
}
