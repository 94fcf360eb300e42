import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, MethodMap, ServiceDefinition } from '../codec/service-definition.js';
import { channels } from '../util/diagnostics.js';
import type { Handler, HandlerOf } from '../pipeline/handler-context.js';
import { InlineLane } from './inline-lane.js';
import { StreamLane } from './stream-lane.js';
import { Router, type CallLane, type Lane, type Route } from './router.js';
import { WorkerLane, type WorkerThreadStats } from '../worker-lane/worker-lane.js';
import { ActorLane } from '../actor-lane/actor-lane.js';
import { Reactor } from './reactor.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './server-options.js';
import { MethodStats, type ConnectionStats, type MethodStatsSnapshot, type ServerState, type ServerStats } from './server-stats.js';
import type { MessageInit } from '../codec/message-types.js';
import { ServerRegistration } from './server-registration.js';
import { resolveLanes, workerModulePath } from './service-lanes.js';
import * as v from '../util/validate.js';
import type { ServerInterceptor } from '../pipeline/interceptor.js';
import { RINGRPC_ALPN } from '../protocol/constants.js';
import { GrpcEndpoint } from '../grpc/grpc-endpoint.js';

export type { ServerState };

/** Handlers of a service, keyed by stub name (`echo`) or .proto name (`Echo`). */
export type ServiceImplementation<S extends ServiceDefinition = ServiceDefinition> = {
  [K in keyof S['methods']]?: S['methods'][K] extends MethodDefinition<infer I, infer O, infer Kind> ? HandlerOf<Kind, I, MessageInit<O>> : never;
};

/** How a service's methods are run (`addService`'s third argument). */
export interface AddServiceOptions {
  /**
   * Lane per method, keyed by stub name (`work`) or .proto name (`Work`); methods not
   * named run inline (on the main thread). Stream methods of every kind may run on the
   * worker or actor lane too, over ringrpc's protocol and over gRPC alike.
   */
  lanes?: Record<string, Lane>;
  /**
   * Module that each worker and actor thread loads once for the methods on those lanes
   * (`.js`, or `.ts`: natively where Node strips types, else through tsx). It exports the
   * handlers as `ringrpc serve --handlers` expects: an object named after the service; for
   * the actor lane also, optionally, `activate(key, info)` and `deactivate(key, state,
   * info)` (see `ActorHooks`). Required when any method runs on those lanes.
   */
  workerModule?: string | URL;
  /** Interceptors of this service's calls, after the server's own (`ServerOptions.interceptors`). */
  interceptors?: readonly ServerInterceptor[];
}

/** Where a listening server is reachable. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * A ringrpc server: the reactor that owns the listening socket and every connection,
 * and routes each request to its lane. Create it with {@link createServer}.
 */
export class Server {
  readonly options: ResolvedServerOptions;
  private readonly router = new Router();
  private readonly reactor: Reactor;
  private readonly netServer: net.Server;
  private readonly inline: InlineLane;
  /** Stream methods' lane: inline, through the stream runner. */
  private readonly streams: StreamLane;
  private current: ServerState = 'idle';
  private closing: Promise<void> | undefined;
  private bound: ServerAddress | undefined;
  private workerLane: WorkerLane | undefined;
  private actorLane: ActorLane | undefined;
  private readonly registration: ServerRegistration | undefined;
  /** gRPC on the same port (`options.grpc`): tells the protocols apart and serves HTTP/2 connections. */
  private readonly grpc: GrpcEndpoint | undefined;

  constructor(options: ServerOptions = {}) {
    this.options = resolveServerOptions(options);
    this.reactor = new Reactor(this.options, this.router);
    this.inline = new InlineLane(this.options);
    this.streams = new StreamLane(this.options);
    this.registration = this.options.registry === undefined ? undefined : new ServerRegistration(this.options.registry, this.options.advertise);
    this.grpc = this.options.grpc ? new GrpcEndpoint(this.reactor, this.router, this.options, () => this.current === 'listening') : undefined;
    const accept = (socket: net.Socket): void => {
      if (this.current !== 'listening') socket.destroy();
      else if (this.grpc === undefined) this.reactor.accept(socket);
      else this.grpc.accept(socket);
    };
    const tlsOptions = this.options.tls;
    if (tlsOptions === undefined) {
      this.netServer = net.createServer({ noDelay: true }, accept);
    } else {
      // ALPN: `h2` for gRPC clients, ringrpc's own identifier for its clients; a client that
      // offers neither (older ringrpc clients) is told apart by its first bytes.
      const ALPNProtocols = this.grpc === undefined ? [RINGRPC_ALPN] : ['h2', RINGRPC_ALPN];
      const server = tls.createServer({ handshakeTimeout: this.options.frameTimeoutMs, ALPNProtocols, ...tlsOptions }, accept);
      // A failed handshake (no or bad client certificate, plain TCP, timeout) is the
      // peer's problem: count it and carry on (the socket is already destroyed).
      server.on('tlsClientError', (err, socket) => {
        this.reactor.counters.tlsFailed++;
        if (channels.serverConnectionClose.hasSubscribers) {
          channels.serverConnectionClose.publish({
            peer: `${socket.remoteAddress}:${socket.remotePort}`,
            reason: 'tls-handshake',
            status: Status.UNAUTHENTICATED,
            message: err.message,
          });
        }
      });
      this.netServer = server;
    }
  }

  /** The server's state. */
  get state(): ServerState {
    return this.current;
  }

  /** Address it listens on, once listening. */
  get address(): ServerAddress | undefined {
    return this.bound;
  }

  /**
   * Adds a service. `implementation` maps methods to handlers; a method left out answers
   * UNIMPLEMENTED. A key that names no method of the service is an error (a typo would
   * otherwise go unnoticed until the first call).
   */
  addService<S extends ServiceDefinition>(service: S, implementation: ServiceImplementation<S>, options: AddServiceOptions = {}): this {
    if (this.current === 'draining' || this.current === 'closed') {
      throw new RpcError(Status.FAILED_PRECONDITION, `cannot add service ${service.name}: the server is ${this.current}`);
    }
    if (implementation === null || typeof implementation !== 'object') {
      throw new RpcError(Status.INVALID_ARGUMENT, `implementation of ${service.name} must be an object of handlers`);
    }
    const methods = Object.values(service.methods as MethodMap);
    const impl = implementation as Record<string, unknown>;
    for (const key of Object.keys(impl)) {
      if (!methods.some((m) => m.localName === key || m.name === key)) {
        const known = methods.map((m) => m.localName).join(', ');
        throw new RpcError(Status.INVALID_ARGUMENT, `implementation of ${service.name} has ${key}, which is not a method of it (methods: ${known})`);
      }
    }
    const lanes = resolveLanes(service, methods, options.lanes);
    const interceptors = [...this.options.interceptors, ...v.functions<ServerInterceptor>(`interceptors of ${service.name}`, options.interceptors)];
    const onWorkers = methods.filter((m) => lanes.get(m) === 'worker');
    const onActors = methods.filter((m) => lanes.get(m) === 'actor');
    if (onWorkers.length > 0) {
      this.workerLane ??= new WorkerLane(this.options);
      this.workerLane.register(service, onWorkers, workerModulePath(options.workerModule, service));
    }
    if (onActors.length > 0) {
      this.actorLane ??= new ActorLane(this.options);
      this.actorLane.register(service, onActors, workerModulePath(options.workerModule, service));
    }
    const laneOf = (name: Lane): CallLane => (name === 'worker' ? this.workerLane! : name === 'actor' ? this.actorLane! : this.inline);
    const routes: Route[] = methods.map((method) => {
      const handler = impl[method.localName] ?? impl[method.name];
      if (handler !== undefined && typeof handler !== 'function') {
        throw new RpcError(Status.INVALID_ARGUMENT, `handler of ${method.path} must be a function`);
      }
      return {
        method,
        handler: (handler as Handler | undefined) ?? unimplemented(method),
        // Streams named for a thread lane (server streams only: resolveLanes) run there; the others on the stream runner.
        lane: method.kind === 'unary' || (lanes.get(method) ?? 'inline') !== 'inline' ? laneOf(lanes.get(method) ?? 'inline') : this.streams,
        interceptors,
        stats: new MethodStats(),
      };
    });
    this.router.add(service, routes);
    if (this.current === 'listening') void this.registration?.add(service.name);
    return this;
  }

  /**
   * Starts listening (`port`/`host` default to the options). Resolves with the bound
   * address; a port in use is UNAVAILABLE naming the address. With a registry it resolves
   * once the services are registered, or after the registry's `connectTimeoutMs` when it
   * cannot be reached (published on `ringrpc:registry` as `register-failed`; the
   * registration goes on in the background, and the server serves meanwhile).
   */
  async listen(port: number = this.options.port, host: string = this.options.host): Promise<ServerAddress> {
    if (this.current !== 'idle') throw new RpcError(Status.FAILED_PRECONDITION, `cannot listen: the server is ${this.current}`);
    this.current = 'starting';
    // Workers first: a handler module that fails to load is an error here, not at the first call.
    try {
      await Promise.all([this.workerLane?.start(), this.actorLane?.start()]);
    } catch (err) {
      await this.closeLanes();
      this.current = 'closed';
      throw err;
    }
    if (this.current !== 'starting') throw shutDownWhileStarting(host, port);
    this.netServer.listen(port, host);
    try {
      await once(this.netServer, 'listening');
    } catch (err) {
      await this.closeLanes(); // their threads would keep the process alive
      this.current = 'closed';
      throw new RpcError(Status.UNAVAILABLE, `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
    }
    if (this.current !== 'starting') {
      this.netServer.close();
      throw shutDownWhileStarting(host, port);
    }
    const info = this.netServer.address() as net.AddressInfo;
    this.bound = { host, port: info.port };
    this.current = 'listening';
    this.reactor.startSweeping();
    if (this.registration !== undefined) {
      const services = new Set([...this.router.routes()].map((r) => r.method.service));
      await this.registration.start([...services], host, info.port);
    }
    return this.bound;
  }

  /**
   * Graceful shutdown: stop accepting, send GOAWAY with `last_request_id` on every
   * connection, answer every taken request, then close. After `graceMs` whatever is
   * still open is force-closed and its calls abandoned. Idempotent.
   */
  shutdown(options: { graceMs?: number } = {}): Promise<void> {
    if (options.graceMs !== undefined) {
      try {
        v.nonNegativeMs('graceMs', options.graceMs);
      } catch (err) {
        return Promise.reject(err as RpcError);
      }
    }
    this.closing ??= this.doShutdown(options.graceMs ?? this.options.shutdownGraceMs);
    return this.closing;
  }

  /** Same as {@link shutdown} with the default grace period. */
  close(): Promise<void> {
    return this.shutdown();
  }

  private async doShutdown(graceMs: number): Promise<void> {
    const wasListening = this.current === 'listening';
    this.current = 'draining';
    // Out of the registry first, so that clients stop picking this server; those that
    // already did get GOAWAY below and resend elsewhere.
    await this.registration?.withdraw();
    // Done when the listening socket has seen every socket go, or when all that are left
    // linger for their peers with nothing more to write (EndedSockets).
    const closed = wasListening
      ? new Promise<void>((resolve) => {
          this.netServer.close(() => resolve());
          this.reactor.onceOnlyLingering(this.netServer, resolve);
        })
      : Promise.resolve();
    this.reactor.drainAll();
    this.grpc?.drain();
    const timer = setTimeout(() => {
      this.reactor.destroyAll(new RpcError(Status.UNAVAILABLE, `server shut down before the call finished (grace ${graceMs} ms)`));
    }, graceMs);
    await closed;
    clearTimeout(timer);
    this.reactor.stopSweeping();
    await this.closeLanes();
    await this.registration?.close();
    this.current = 'closed';
  }

  /** Counters: connections, bytes, per-method requests and errors. */
  stats(): ServerStats {
    const methods: Record<string, MethodStatsSnapshot> = {};
    for (const route of this.router.routes()) methods[route.method.path] = route.stats.snapshot();
    const c = this.reactor.counters;
    return {
      state: this.current,
      connections: {
        open: c.open,
        accepted: c.accepted,
        refused: c.refused,
        idleClosed: c.idleClosed,
        faultClosed: c.faultClosed,
        overflowClosed: c.overflowClosed,
        slowClosed: c.slowClosed,
        oversizedClosed: c.oversizedClosed,
        tlsFailed: c.tlsFailed,
        grpc: c.grpcAccepted,
        keepaliveRtt: c.keepaliveRtt.snapshot(),
      },
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      bufferedInBytes: c.bufferedIn,
      bufferedOutBytes: this.reactor.bufferedOutBytes(),
      inflight: this.reactor.inflight,
      grpcCalls: c.grpcCalls,
      workerLane: this.workerLane?.stats(),
      actorLane: this.actorLane?.stats(),
      methods,
    };
  }

  /** Every open connection: peer, age, calls in flight, bytes each way, keepalive RTT. */
  connectionStats(): ConnectionStats[] {
    return this.reactor.connectionStats();
  }

  /**
   * Per-thread details of the worker and actor lanes (tasks, requests, busy time, heap),
   * asked of each thread over its control channel; empty when no method runs on them.
   */
  async workerStats(): Promise<WorkerThreadStats[]> {
    const [workers = [], actors = []] = await Promise.all([this.workerLane?.threadStats(), this.actorLane?.threadStats()]);
    return [...workers, ...actors];
  }

  private async closeLanes(): Promise<void> {
    await Promise.all([this.workerLane?.close(), this.actorLane?.close()]);
  }
}

function unimplemented(method: MethodDefinition): Handler {
  return () => {
    throw new RpcError(Status.UNIMPLEMENTED, `${method.path} is not implemented by this server`);
  };
}

/** Creates a server; add services, then `listen()`. */
export function createServer(options?: ServerOptions): Server {
  return new Server(options);
}

/** listen()'s answer when shutdown() came while it was starting: shutdown wins. */
function shutDownWhileStarting(host: string, port: number): RpcError {
  return new RpcError(Status.CANCELLED, `listen on ${host}:${port} abandoned: the server was shut down while starting`);
}
