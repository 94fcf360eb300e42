import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { Handler } from './handler-context.js';
import type { MethodStats } from './server-stats.js';

/** Where a method runs: on the main thread, or on the worker pool. */
export type Lane = 'inline' | 'worker';

/** A routable method: its definition, its handler and its lane. */
export interface Route {
  readonly method: MethodDefinition;
  readonly handler: Handler;
  readonly lane: Lane;
  /** The method's counters (mutable). */
  readonly stats: MethodStats;
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

  /** Names of the services added, for stats and logs. */
  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** Every route, for stats. */
  *routes(): Iterable<Route> {
    for (const methods of this.services.values()) yield* methods.values();
  }
}
