import type net from 'node:net';
import { Status } from '../status.js';
import { RpcError } from '../errors.js';
import { FrameType } from '../protocol/constants.js';
import { encodeFrame } from '../protocol/frame.js';
import { encodeMeta } from '../protocol/meta.js';
import { channels } from '../util/diagnostics.js';
import type { Route, Router } from './router.js';
import type { ConnectionHost, HostedConnection } from './connection-host.js';
import { ServerConnection } from './server-connection.js';
import { EndedSockets } from './ended-sockets.js';
import type { ResolvedServerOptions } from './server-options.js';
import { ConnectionCounters, type ConnectionStats } from './server-stats.js';

/**
 * The reactor's books: every open connection, the server-wide admission count, the
 * counters, and the periodic sweep (idle eviction, frame and write timeouts, keepalive
 * PINGs). It is what each {@link ServerConnection} talks to; the server façade owns
 * the listening socket and the lifecycle.
 */
export class Reactor implements ConnectionHost<HostedConnection> {
  readonly counters = new ConnectionCounters();
  private readonly connections = new Set<HostedConnection>();
  /** Connections whose peer is not reading: their unsent bytes count against `maxBufferedOutputBytes`. */
  private readonly stalled = new Set<HostedConnection>();
  /** Sockets the server has ended, lingering for their peers (connections, and sockets refused before they were one). */
  private readonly ended = new EndedSockets();
  private admitted = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Shutdown has begun: a connection adopted from now on (its protocol told late) is drained at once. */
  private draining = false;

  constructor(
    readonly options: ResolvedServerOptions,
    readonly router: Router,
  ) {}

  /** Calls taken server-wide and not yet answered. */
  get inflight(): number {
    return this.admitted;
  }

  admit(route: Route, oneway: boolean, requests: number, invalid?: RpcError): RpcError | undefined {
    route.stats.requests++;
    if (invalid !== undefined) {
      route.stats.recordRefusal(invalid.code);
      return invalid;
    }
    const { maxConcurrentRequestsPerConnection: perConnection, maxConcurrentRequests } = this.options;
    let refusal: string;
    if (!oneway && requests >= perConnection) refusal = `too many requests in flight on this connection (limit ${perConnection})`;
    else if (this.admitted >= maxConcurrentRequests) refusal = `server is at its limit of ${maxConcurrentRequests} requests in flight`;
    else {
      this.admitted++;
      return undefined;
    }
    route.stats.recordRefusal(Status.RESOURCE_EXHAUSTED);
    return new RpcError(Status.RESOURCE_EXHAUSTED, refusal, { notRun: 'refused' });
  }

  release(): void {
    this.admitted--;
  }

  reserveInput(delta: number): boolean {
    const total = this.counters.bufferedIn + delta;
    if (delta > 0 && total > this.options.maxBufferedInputBytes) return false;
    this.counters.bufferedIn = total;
    return true;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  setStalled(connection: HostedConnection, stalled: boolean): void {
    if (stalled) this.stalled.add(connection);
    else this.stalled.delete(connection);
  }

  bufferedOutBytes(): number {
    let total = 0;
    for (const connection of this.stalled) total += connection.socket.writableLength;
    return total;
  }

  linger(socket: net.Socket, ms?: number): void {
    this.ended.add(socket, ms);
  }

  connectionClosed(connection: HostedConnection): void {
    if (this.connections.delete(connection)) this.counters.open--;
  }

  /** A new ringrpc socket: served, or refused with GOAWAY RESOURCE_EXHAUSTED past `maxConnections`. */
  accept(socket: net.Socket): void {
    this.adopt(
      socket,
      (host, s) => new ServerConnection(host, s),
      (s) => this.refuse(s),
    );
  }

  /**
   * A new socket of either protocol: `open` serves it and the reactor keeps it (sweep,
   * shutdown, counters); past `maxConnections` it is counted as refused and handed to
   * `refuse`, which tells the peer in its protocol.
   */
  adopt(socket: net.Socket, open: (host: Reactor, socket: net.Socket) => HostedConnection, refuse: (socket: net.Socket, message: string) => void): void {
    if (this.connections.size >= this.options.maxConnections) {
      this.counters.refused++;
      const message = `server is at its limit of ${this.options.maxConnections} connections`;
      refuse(socket, message);
      if (channels.serverConnectionClose.hasSubscribers) {
        channels.serverConnectionClose.publish({
          peer: `${socket.remoteAddress}:${socket.remotePort}`,
          reason: 'max-connections',
          status: Status.RESOURCE_EXHAUSTED,
          message,
        });
      }
      return;
    }
    const connection = open(this, socket);
    this.connections.add(connection);
    this.counters.open++;
    this.counters.accepted++;
    if (channels.serverConnectionOpen.hasSubscribers) channels.serverConnectionOpen.publish({ peer: `${socket.remoteAddress}:${socket.remotePort}` });
    if (this.draining) connection.drain();
  }

  /** Starts the periodic sweep, often enough for the shortest of the limits it enforces. */
  startSweeping(): void {
    const { idleTimeoutMs, frameTimeoutMs, writeTimeoutMs } = this.options;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(idleTimeoutMs, frameTimeoutMs, writeTimeoutMs) / 4)));
    let lastSweep = Date.now();
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      // A sweep that comes late follows a stall of this thread: frames may be waiting
      // unread in the sockets (timers run before I/O), so nobody is evicted as idle this time.
      const late = now - lastSweep > 2 * every;
      lastSweep = now;
      for (const connection of this.connections) connection.sweep(now, late ? Infinity : idleTimeoutMs);
    }, every);
    this.sweepTimer.unref();
  }

  stopSweeping(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Graceful shutdown, step one on every connection: GOAWAY, answer what was taken, then end. */
  drainAll(): void {
    this.draining = true;
    for (const connection of this.connections) connection.drain();
  }

  /**
   * Calls `done` (maybe more than once) once every socket `server` still has is one the
   * server ended and wrote out, lingering for its peer: a shutdown need not wait for those.
   */
  onceOnlyLingering(server: net.Server, done: () => void): void {
    this.ended.whenOnlyWritten((written) =>
      server.getConnections((err, open) => {
        if (!err && open <= written) done();
      }),
    );
  }

  /** End of the shutdown grace: every connection force-closed, its calls abandoned. */
  destroyAll(reason: RpcError): void {
    for (const connection of this.connections) connection.destroy(reason);
    this.ended.destroyAll();
  }

  /** Every open connection: peer, age, calls in flight, bytes each way, keepalive RTT. */
  connectionStats(): ConnectionStats[] {
    return [...this.connections].map((c) => c.stats());
  }

  /**
   * Closes a ringrpc socket before it is a connection (nothing taken): GOAWAY with `status`
   * (by default RESOURCE_EXHAUSTED: one connection too many) and `message`, then end.
   * Counted by the caller.
   */
  refuse(
    socket: net.Socket,
    message = `server is at its limit of ${this.options.maxConnections} connections`,
    status: Status = Status.RESOURCE_EXHAUSTED,
  ): void {
    const meta = encodeMeta({ status, message, lastRequestId: 0 });
    socket.on('error', () => {});
    socket.end(encodeFrame(FrameType.GOAWAY, 0, meta, Buffer.alloc(0)));
    this.linger(socket); // a peer that never reads must not hold the socket open
  }
}
