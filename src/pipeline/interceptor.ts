import type { CallProtocol, Peer } from './handler-context.js';

/** How an intercepted call ended: its status (0 OK). */
export interface CallOutcome {
  readonly status: number;
}

/**
 * What a server interceptor sees of a call, before any lane has it. `metadata` may be
 * changed (the handler sees the change, on every lane); `identity` set here reaches the
 * handler as `ctx.identity` (a JSON-serialisable value: worker and actor threads get a copy).
 */
export interface ServerCallInfo {
  readonly service: string;
  readonly method: string;
  readonly requestId: number;
  /** The protocol the call came by. */
  readonly protocol: CallProtocol;
  /** The call's metadata, as the client sent it; interceptors may set and delete keys. */
  readonly metadata: Record<string, string>;
  /** The call's key (`Meta.key`), `''` for none. */
  readonly key: string;
  /** When the client stops waiting, in ms since the epoch; `Infinity` for no deadline. */
  readonly deadline: number;
  /** The client: address, port and, under mutual TLS, its certificate's identity. */
  readonly peer: Peer;
  /** Who the caller is, as an authentication interceptor established it. */
  identity: unknown;
}

/**
 * A server interceptor: runs on the reactor when a call has been admitted and before it is
 * handed to its lane, so a call it refuses never costs a worker. It may read and change
 * `call.metadata`, set `call.identity`, refuse the call by throwing (an `RpcError` with its
 * status, anything else UNKNOWN), or call `next()` and await the call's outcome (logging,
 * timing, tracing). Interceptors compose in the order given: the first is outermost,
 * server-wide ones before a service's own.
 */
export type ServerInterceptor = (call: ServerCallInfo, next: () => Promise<CallOutcome>) => Promise<CallOutcome>;

/** What a client interceptor sees of a call before it is sent. */
export interface ClientCallInfo {
  readonly service: string;
  readonly method: string;
  /** The request message, as the caller passed it. */
  readonly request: unknown;
  /** Metadata to send; interceptors may set and delete keys. */
  readonly metadata: Record<string, string>;
  /** The call's key, if any; an interceptor may set one. */
  key: string | undefined;
  /** The call's deadline in ms from now (0: none); an interceptor may shorten or set it. */
  timeoutMs: number;
}

/**
 * A client interceptor: wraps each call of a client, all of its attempts included. It
 * may change `call.metadata`, `key` and `timeoutMs`, refuse the call by throwing, and
 * await, replace or wrap what `next()` resolves with (the reply) or rejects with (an
 * `RpcError`). The first interceptor given is outermost.
 */
export type ClientInterceptor = (call: ClientCallInfo, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Runs `interceptors` around `last`, first outermost. Each `next` may be called once; a
 * second call gets the first call's promise (an interceptor that retries by calling `next`
 * again would otherwise run the call twice).
 */
export function compose<C, R>(interceptors: ReadonlyArray<(call: C, next: () => Promise<R>) => Promise<R>>, call: C, last: () => Promise<R>): Promise<R> {
  const at = (i: number): Promise<R> => {
    if (i === interceptors.length) return last();
    let nexted: Promise<R> | undefined;
    const next = (): Promise<R> => (nexted ??= at(i + 1));
    try {
      return Promise.resolve(interceptors[i]!(call, next));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return at(0);
}
