import type { Socket } from 'node:net';
import type { RpcError } from '../errors.js';
import type { Route, Router } from './router.js';
import type { ResolvedServerOptions } from './server-options.js';
import type { ConnectionCounters, ConnectionStats } from './server-stats.js';

/** A connection the reactor keeps, of either protocol (a ringrpc `ServerConnection`, a gRPC session). */
export interface HostedConnection {
  readonly socket: Socket;
  /** The periodic sweep: idle eviction, timeouts, keepalive PINGs. */
  sweep(now: number, idleMs: number): void;
  /** Graceful shutdown: GOAWAY in two steps, answer what was taken, then close. */
  drain(): void;
  /** Force-close (end of the shutdown grace): taken calls are abandoned with `reason`. */
  destroy(reason: RpcError): void;
  stats(): ConnectionStats;
}

/**
 * What a connection needs from its server (the reactor): options, routes, counters,
 * admission, and the server-wide bounds on buffered bytes. `C` is the connection type.
 */
export interface ConnectionHost<C> {
  readonly options: ResolvedServerOptions;
  readonly router: Router;
  readonly counters: ConnectionCounters;
  /**
   * Counts a call of `route` and admits it on a connection with `requests` REQUESTs in
   * flight, taking a slot of the server-wide limit; else its refusal, counted: `invalid`
   * when the request was found malformed before (its key), else RESOURCE_EXHAUSTED (not run).
   */
  admit(route: Route, oneway: boolean, requests: number, invalid?: RpcError): RpcError | undefined;
  /** Gives a slot back. */
  release(): void;
  /**
   * Changes this connection's share of the server-wide bound on buffered input by `delta`
   * bytes; false (and nothing reserved) when a growth would pass `maxBufferedInputBytes`.
   */
  reserveInput(delta: number): boolean;
  /** The peer stopped reading (`true`) or caught up (`false`): its unsent bytes count server-wide. */
  setStalled(connection: C, stalled: boolean): void;
  /** Unsent response bytes of every stalled connection. */
  bufferedOutBytes(): number;
  /**
   * `socket` is ended by the server (or will be once its last bytes are out): kept for its
   * peer to read them and close its side, `ms` at most (default `LINGER_MS`); a shutdown
   * does not wait for it once they are written (see `EndedSockets`).
   */
  linger(socket: Socket, ms?: number): void;
  connectionClosed(connection: C): void;
}
