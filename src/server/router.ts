import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ServiceDefinition } from '../codec/service-definition.js';
import type { CallRoute, ServerCall } from './server-call.js';
import type { Lane, ServerInterceptor } from '../pipeline/interceptor.js';
import type { CallStream, StreamLimits, StreamSink } from '../pipeline/stream-pipeline.js';

export type { Lane };

/**
 * Runs the calls routed to it. A lane answers every call it is handed, exactly once,
 * through the call itself (a full queue included).
 */
export interface CallLane {
  readonly name: Lane;
  /** Takes a call; `meta` and `body` may be views of the socket's read chunk, valid only in this tick. */
  submit(call: ServerCall, meta: Uint8Array, body: Uint8Array): void;
  /**
   * The stream state of a stream method's call, for a lane that runs its handler on another
   * thread; without it the call gets the inline runner's (`PipelineStream`).
   */
  openStream?(call: ServerCall, sink: StreamSink, limits: StreamLimits): CallStream;
}

/** A routable method: its definition, its handler, its counters, the lane that runs it and the interceptors before it. */
export interface Route extends CallRoute {
  readonly lane: CallLane;
  /** Server-wide interceptors, then the service's own; empty (most often) costs nothing. */
  readonly interceptors: readonly ServerInterceptor[];
}

/**
 * `service` → `method` → {@link Route}. Two map lookups per request, no string
 * concatenation on the hot path.
 */
export class Router {
  private readonly services = new Map<string, Map<string, Route>>();

  add(service: ServiceDefinition, routes: readonly Route[]): void {
    if (this.services.has(service.name)) {
      throw new RpcError(Status.ALREADY_EXISTS, `service ${service.name} is already added to this server`);
    }
    this.services.set(service.name, new Map(routes.map((r) => [r.method.name, r])));
  }

  /** The route, or an UNIMPLEMENTED error naming what is unknown. */
  find(service: string, method: string): Route | RpcError {
    const methods = this.services.get(service);
    if (methods === undefined) {
      return new RpcError(Status.UNIMPLEMENTED, `unknown service ${JSON.stringify(service)}`);
    }
    const route = methods.get(method);
    if (route === undefined) {
      return new RpcError(Status.UNIMPLEMENTED, `unknown method ${JSON.stringify(method)} of service ${service}`);
    }
    return route;
  }

  /**
   * The route of a method called in a way that carries one request and no stream (`how`:
   * `as ONEWAY`): as {@link find}, and UNIMPLEMENTED naming it for a stream method.
   */
  findUnary(service: string, method: string, how: string): Route | RpcError {
    const route = this.find(service, method);
    if (route instanceof RpcError || route.method.kind === 'unary') return route;
    return new RpcError(Status.UNIMPLEMENTED, `${route.method.path} is a streaming method (${route.method.kind}), which is not served ${how}`);
  }

  /** Names of the services added, for stats and logs. */
  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** Every route, for stats. */
  *routes(): Iterable<Route> {
    for (const methods of this.services.values()) yield* methods.values();
  }
}
