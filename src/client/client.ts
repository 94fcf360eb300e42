import { compose, type AttemptHook, type ClientCallInfo } from '../pipeline/interceptor.js';
import type { MethodDefinition, MethodMap, ServiceDefinition } from '../codec/service-definition.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { isRegistryUri, openRegistryWith, parseRegistryUri } from '../registry/registry-uri.js';
import type { Registry, ServiceInstance } from '../registry/registry.js';
import { DEFAULT_WEIGHT } from '../registry/registry.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import { EndpointSet, type Member } from './endpoint-set.js';
import { createLoadBalancer } from './load-balancer.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.js';
import { checkCallOptions, type CallOptions } from './call-options.js';
import { ConnectionPool, poolConnections } from './connection-pool.js';
import type { EndpointStats } from './endpoint-connections.js';
import { RetryBudget } from './retry-budget.js';
import { runCall, type CallTarget } from './retrying-call.js';
import type { Callback, StubOf, UnaryMethod } from './stub-types.js';
import { checkFrameSize, encodeRequest, gzipAboveBytes } from './request-encoding.js';
import { makeStreamMethod, type StreamStubContext } from './stream-stubs.js';

/** The options of a call made without any (frozen: nothing downstream may write to them). */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** The typed stub of a service: one method per rpc, plus `$`-prefixed controls. */
export type Client<S extends ServiceDefinition> = {
  [K in keyof S['methods']]: S['methods'][K] extends MethodDefinition<infer I, infer O, infer Kind> ? StubOf<Kind, I, O> : never;
} & ClientControls;

/** Controls of a stub; `$`-prefixed so that no rpc name can collide with them. */
export interface ClientControls {
  /** What this client calls: `host:port[,host:port…]`, or the registry URI. */
  readonly $address: string;
  /** The instances it calls now (for a registry target, the live list). */
  $instances(): Endpoint[];
  /** The validated options in force. */
  readonly $options: ResolvedClientOptions;
  /** The connection pool the client uses (its own, or the shared one it was given). */
  readonly $pool: ConnectionPool;
  /** Per endpoint: connection state, calls in flight, connects, failures, keepalive RTT. */
  $stats(): EndpointStats[];
  /**
   * Stops the client: new calls fail UNAVAILABLE. Its own pool closes once pending calls
   * have settled; a shared pool stays open for its other clients.
   */
  $close(): Promise<void>;
}

/**
 * Where a client sends its calls: `"host:port"`, `"h1:p1,h2:p2"`, an endpoint or a list
 * of them; or a registry — its URI (`zk://…`, `ringrpc://…`, `static://…`) or an open
 * {@link Registry} — in which the client follows the instances of its service.
 */
export type ClientTarget = string | Endpoint | ReadonlyArray<string | Endpoint> | Registry;

/**
 * Creates a typed client of `service` at `target`. Calls are spread over the target's
 * instances by `options.loadBalancer`, skipping instances that cannot be reached.
 * With a registry, the client follows the live instance list of `service.name`; calls
 * made before the first list arrives wait for it (within their deadline). Connections
 * open lazily, on the first call.
 */
export function createClient<S extends ServiceDefinition>(service: S, target: ClientTarget, options?: ClientOptions): Client<S> {
  const resolved = resolveClientOptions(options);
  const methods = Object.values(service.methods as MethodMap);
  for (const name of Object.keys(resolved.methods)) {
    if (!methods.some((m) => m.localName === name || m.name === name)) {
      throw new RpcError(
        Status.INVALID_ARGUMENT,
        `options.methods.${name} names no method of ${service.name} (methods: ${methods.map((m) => m.localName).join(', ')})`,
      );
    }
  }
  const source = resolveTarget(target, resolved.registry);
  const ownPool = resolved.pool !== undefined;
  const pool = ownPool ? new ConnectionPool(resolved.pool!) : (options!.pool as ConnectionPool);
  const connections = poolConnections(pool);
  const balancer = createLoadBalancer(resolved.loadBalancer, (p) => connections.pending(p.address));
  const where = source.kind === 'fixed' ? source.address : `${source.registry.uri} (service ${service.name})`;
  const endpoints = new EndpointSet(connections, balancer, resolved.maxEjectionPercent, where, source.kind === 'fixed' ? source.members : undefined);
  const unwatch =
    source.kind === 'registry'
      ? source.registry.watch(
          service.name,
          (list) => endpoints.update(list.map(toMember)),
          (error) => endpoints.fail(error),
        )
      : undefined;
  const calls: CallTarget = {
    connections,
    endpoints,
    budget: new RetryBudget(resolved.retryBudget.ratio, resolved.retryBudget.minPerSecond),
  };
  const address = source.kind === 'fixed' ? source.address : source.registry.uri;
  let closed = false;
  const stub: Record<string, unknown> = {
    $address: address,
    $options: resolved,
    $pool: pool,
    $instances: () => currentEndpoints(endpoints),
    $stats: () => {
      const mine = new Set(currentEndpoints(endpoints).map(formatEndpoint));
      return pool.stats().filter((s) => mine.has(s.address));
    },
    $close: async () => {
      if (closed) return;
      closed = true;
      unwatch?.();
      if (source.kind === 'registry' && source.owned) await source.registry.close();
      if (ownPool) await pool.close();
      endpoints.close();
    },
  };
  const isClosed = (): boolean => closed || pool.isClosed;
  const streams: StreamStubContext = { calls, options: resolved, address, isClosed };
  for (const method of methods) {
    stub[method.localName] = method.kind === 'unary' ? makeMethod(method, calls, resolved, address, isClosed) : makeStreamMethod(method, streams);
  }
  return stub as Client<S>;
}

type TargetSource =
  | { readonly kind: 'fixed'; readonly members: Member[]; readonly address: string }
  | { readonly kind: 'registry'; readonly registry: Registry; readonly owned: boolean };

function resolveTarget(target: ClientTarget, registryOptions: ResolvedClientOptions['registry']): TargetSource {
  if (typeof target === 'string' && isRegistryUri(target)) {
    const { location } = parseRegistryUri(target);
    if (location.kind === 'static') return fixed(location.endpoints.map((e) => ({ host: e.host, port: e.port })));
    return { kind: 'registry', registry: openRegistryWith(target, registryOptions, { createClient }), owned: true };
  }
  if (isRegistry(target)) return { kind: 'registry', registry: target, owned: false };
  return fixed(parseTarget(target as string | Endpoint | ReadonlyArray<string | Endpoint>));
}

function fixed(endpoints: Endpoint[]): TargetSource {
  if (endpoints.length === 0) throw new RpcError(Status.INVALID_ARGUMENT, 'a client needs at least one endpoint');
  return { kind: 'fixed', members: endpoints.map((endpoint) => ({ endpoint, weight: DEFAULT_WEIGHT })), address: endpoints.map(formatEndpoint).join(',') };
}

function isRegistry(target: unknown): target is Registry {
  return (
    target !== null && typeof target === 'object' && typeof (target as Registry).watch === 'function' && typeof (target as Registry).register === 'function'
  );
}

function toMember(instance: ServiceInstance): Member {
  return { endpoint: { host: instance.host, port: instance.port }, weight: instance.weight };
}

function currentEndpoints(set: EndpointSet): Endpoint[] {
  return set.members.map((m) => m.endpoint);
}

function parseTarget(target: string | Endpoint | ReadonlyArray<string | Endpoint>): Endpoint[] {
  const items = typeof target === 'string' ? target.split(',') : Array.isArray(target) ? target : [target as Endpoint];
  if (items.length === 0) throw new RpcError(Status.INVALID_ARGUMENT, 'a client needs at least one endpoint');
  return items.map((item) => {
    if (typeof item === 'string') return parseEndpoint(item);
    if (item === null || typeof item !== 'object' || typeof item.host !== 'string' || !Number.isInteger(item.port) || item.port < 1 || item.port > 65535) {
      throw new RpcError(Status.INVALID_ARGUMENT, `invalid endpoint ${JSON.stringify(item)}: expected { host, port } with a port from 1 to 65535`);
    }
    return { host: item.host, port: item.port };
  });
}

function makeMethod(
  method: MethodDefinition,
  calls: CallTarget,
  options: ResolvedClientOptions,
  address: string,
  isClosed: () => boolean,
): UnaryMethod<unknown, unknown> {
  const site = { service: method.service, method: method.name, address };
  const own = options.methods[method.localName] ?? options.methods[method.name];
  const retry = own?.retry ?? options.retry;
  const idempotent = own?.idempotent ?? method.idempotent;
  const defaultTimeoutMs = own?.timeoutMs ?? options.timeoutMs;
  const gzipAbove = gzipAboveBytes(options);
  const interceptors = options.interceptors;
  /** What client interceptors see of a call: a copy of its metadata, which they may change. */
  const callInfo = (request: unknown, callOptions: Pick<CallOptions, 'metadata' | 'key'>, timeoutMs: number): ClientCallInfo => ({
    service: method.service,
    method: method.name,
    request,
    metadata: { ...callOptions.metadata },
    key: callOptions.key,
    timeoutMs,
    onAttempt: undefined,
  });
  const keyOf = (callOptions: CallOptions): string | undefined => {
    const key = callOptions.key;
    if (key === undefined && options.loadBalancer === 'consistent_hash') {
      throw new RpcError(Status.INVALID_ARGUMENT, 'loadBalancer consistent_hash needs a key for each call: pass { key }', site);
    }
    return key;
  };
  const invoke = (request: unknown, callOptions: CallOptions): Promise<unknown> => {
    try {
      checkCallOptions(callOptions);
      if (isClosed()) throw new RpcError(Status.UNAVAILABLE, 'client is closed', site);
      if (callOptions.signal?.aborted)
        throw new RpcError(Status.CANCELLED, 'call cancelled by the caller before it was sent', { ...site, cause: callOptions.signal.reason });
      if (interceptors.length === 0) return send(request, callOptions);
      const info = callInfo(request, callOptions, callOptions.timeoutMs ?? defaultTimeoutMs);
      const sent = (): Promise<unknown> => send(request, { ...callOptions, metadata: info.metadata, key: info.key, timeoutMs: info.timeoutMs }, info.onAttempt);
      // Whatever an interceptor throws reaches the caller as an RpcError, like any failure.
      return compose(interceptors, info, sent).catch((err: unknown) => Promise.reject(RpcError.from(err, Status.UNKNOWN, site)));
    } catch (err) {
      return Promise.reject(RpcError.from(err, Status.INVALID_ARGUMENT, site));
    }
  };
  const send = (request: unknown, callOptions: CallOptions, onAttempt?: AttemptHook): Promise<unknown> => {
    const body = encodeRequest(method, request, site);
    checkFrameSize(body, callOptions.metadata, calls.connections.options.maxFrameBytes, site);
    return runCall(
      {
        method,
        body,
        timeoutMs: callOptions.timeoutMs ?? defaultTimeoutMs,
        signal: callOptions.signal,
        metadata: callOptions.metadata,
        onMetadata: callOptions.onMetadata,
        gzipAboveBytes: gzipAbove,
        retry,
        idempotent,
        key: keyOf(callOptions),
        onAttempt,
      },
      calls,
    );
  };
  const fn = ((request: unknown, a?: CallOptions | Callback<unknown>, b?: Callback<unknown>): Promise<unknown> | undefined => {
    const callback = typeof a === 'function' ? a : b;
    const callOptions = (typeof a === 'object' && a !== null ? a : NO_OPTIONS) as CallOptions;
    const promise = invoke(request, callOptions);
    if (callback === undefined) return promise;
    promise.then(
      (reply) => callback(null, reply),
      (err: RpcError) => callback(err),
    );
  }) as UnaryMethod<unknown, unknown>;
  fn.oneway = (request: unknown, callOptions: Pick<CallOptions, 'metadata' | 'key'> = {}): void => {
    checkCallOptions(callOptions);
    if (isClosed()) throw new RpcError(Status.UNAVAILABLE, 'client is closed', site);
    if (interceptors.length === 0) {
      notify(request, callOptions);
      return;
    }
    const info = callInfo(request, callOptions, 0);
    const sent = (): Promise<unknown> => {
      notify(request, { metadata: info.metadata, key: info.key });
      return Promise.resolve(undefined);
    };
    // A notification has no answer to fail: a refusal by an interceptor drops it, as the server would.
    compose(interceptors, info, sent).catch(() => {});
  };
  const notify = (request: unknown, callOptions: Pick<CallOptions, 'metadata' | 'key'>): void => {
    const body = encodeRequest(method, request, site);
    checkFrameSize(body, callOptions.metadata, calls.connections.options.maxFrameBytes, site);
    const key = keyOf(callOptions);
    const picked = calls.endpoints.pick(undefined, key);
    if (picked === undefined) {
      throw new RpcError(
        Status.UNAVAILABLE,
        calls.endpoints.known ? `no instances of ${method.service} in ${calls.endpoints.source}` : `no instances known yet from ${calls.endpoints.source}`,
        site,
      );
    }
    calls.connections
      .acquire(picked.endpoint, picked.connectNow)
      .notify({ method, body, timeoutMs: 0, signal: undefined, metadata: callOptions.metadata, key, gzipAboveBytes: gzipAbove });
  };
  return fn;
}
