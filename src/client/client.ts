import type { MethodDefinition, MethodMap, ServiceDefinition } from '../codec/service-definition.js';
import type { MessageInit } from '../codec/message-types.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { ChannelPool } from './channel-pool.js';
import { checkCallOptions, resolveClientOptions, type CallOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from './endpoint.js';

/** Node-style callback of a stub method. */
export type Callback<O> = (error: RpcError | null, reply?: O) => void;

/** A stub method: promise or callback, per-call options, and `.oneway()`. */
export interface UnaryMethod<I, O> {
  (request: MessageInit<I>, options?: CallOptions): Promise<O>;
  (request: MessageInit<I>, callback: Callback<O>): void;
  (request: MessageInit<I>, options: CallOptions, callback: Callback<O>): void;
  /** Sends the request as ONEWAY: the server runs it and answers nothing. */
  oneway(request: MessageInit<I>, options?: Pick<CallOptions, 'metadata'>): void;
}

/** The typed stub of a service: one method per rpc, plus `$`-prefixed controls. */
export type Client<S extends ServiceDefinition> = {
  [K in keyof S['methods']]: S['methods'][K] extends MethodDefinition<infer I, infer O> ? UnaryMethod<I, O> : never;
} & ClientControls;

/** Controls of a stub; `$`-prefixed so that no rpc name can collide with them. */
export interface ClientControls {
  /** `host:port` this client calls. */
  readonly $address: string;
  /** The validated options in force. */
  readonly $options: ResolvedClientOptions;
  /** Closes the connections once pending calls have settled. */
  $close(): Promise<void>;
}

/**
 * Creates a typed client of `service` at `target` (`"host:port"` or `{ host, port }`).
 * Connections open lazily, on the first call.
 */
export function createClient<S extends ServiceDefinition>(service: S, target: string | Endpoint, options?: ClientOptions): Client<S> {
  const resolved = resolveClientOptions(options);
  const endpoint = typeof target === 'string' ? parseEndpoint(target) : target;
  const pool = new ChannelPool(endpoint, resolved);
  const address = formatEndpoint(endpoint);
  const stub: Record<string, unknown> = {
    $address: address,
    $options: resolved,
    $close: () => pool.close(),
  };
  for (const method of Object.values(service.methods as MethodMap)) {
    stub[method.localName] = makeMethod(method, pool, resolved, address);
  }
  return stub as Client<S>;
}

function makeMethod(method: MethodDefinition, pool: ChannelPool, options: ResolvedClientOptions, address: string): UnaryMethod<unknown, unknown> {
  const site = { service: method.service, method: method.name, address };
  const invoke = (request: unknown, callOptions: CallOptions): Promise<unknown> => {
    try {
      checkCallOptions(callOptions);
      if (pool.isClosed) throw new RpcError(Status.UNAVAILABLE, 'client is closed', site);
      if (callOptions.signal?.aborted) throw new RpcError(Status.CANCELLED, 'call cancelled by the caller before it was sent', { ...site, cause: callOptions.signal.reason });
      const body = encodeRequest(method, request, site);
      return pool.pick().call({
        method,
        body,
        timeoutMs: callOptions.timeoutMs ?? options.timeoutMs,
        signal: callOptions.signal,
        metadata: callOptions.metadata,
        onMetadata: callOptions.onMetadata,
      });
    } catch (err) {
      return Promise.reject(RpcError.from(err, Status.INVALID_ARGUMENT, site));
    }
  };
  const fn = ((request: unknown, a?: CallOptions | Callback<unknown>, b?: Callback<unknown>): Promise<unknown> | void => {
    const callback = typeof a === 'function' ? a : b;
    const callOptions = (typeof a === 'object' && a !== null ? a : {}) as CallOptions;
    const promise = invoke(request, callOptions);
    if (callback === undefined) return promise;
    promise.then(
      (reply) => callback(null, reply),
      (err: RpcError) => callback(err),
    );
  }) as UnaryMethod<unknown, unknown>;
  fn.oneway = (request: unknown, callOptions: Pick<CallOptions, 'metadata'> = {}): void => {
    checkCallOptions(callOptions);
    const body = encodeRequest(method, request, site);
    pool.pick().notify({ method, body, timeoutMs: 0, signal: undefined, metadata: callOptions.metadata });
  };
  return fn;
}

function encodeRequest(method: MethodDefinition, request: unknown, site: { service: string; method: string; address: string }): Uint8Array {
  const type = method.requestType;
  const problem = request === null || typeof request !== 'object' ? 'it is not an object' : type.verify(request as Record<string, unknown>);
  if (problem) throw new RpcError(Status.INVALID_ARGUMENT, `request is not a ${type.fullName.slice(1)}: ${problem}`, site);
  return type.encode(request as Record<string, unknown>).finish();
}
