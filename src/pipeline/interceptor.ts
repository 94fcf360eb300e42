import type { RpcError } from '../errors.js';
import type { CallProtocol, Peer } from './handler-context.js';

/**
 * Where a method runs: on the main thread (`inline`), on the worker pool (`worker`), or in
 * the worker thread that holds the actor of the call's key (`actor`).
 */
export type Lane = 'inline' | 'worker' | 'actor';

/**
 * How an intercepted call ended, as a server interceptor's `next()` resolves with it.
 * The server fills in every field it knows; only `status` is required, so that an
 * interceptor that answers by itself may return just `{ status }` (its outer ones then see
 * no more). `queuedMs` and `runMs` come from the thread that ran the handler, on the
 * reactor's clock: they are set only when a worker or actor thread began the handler.
 */
export interface CallOutcome {
  /** Its status, 0 for OK. */
  readonly status: number;
  /** Why it failed (the error's message), `''` for OK; decoded when first read, since a worker's answer holds it encoded. */
  readonly message?: string;
  /** The lane the call was routed to. */
  readonly lane?: Lane;
  /**
   * Worker and actor lanes: ms from the call's hand-over to its lane (when the innermost
   * interceptor called `next()`) until a thread began its handler: the reactor's queue,
   * the batch's trip to the thread, the request's decoding there, and on the actor lane
   * the wait behind the key's earlier messages. Undefined when no thread began it (the inline lane, a refusal, a
   * call cancelled or out of time while it waited).
   */
  readonly queuedMs?: number;
  /** Worker and actor lanes: ms from the handler's start to the response's being written by its thread (decode excluded, encode included). */
  readonly runMs?: number;
  /**
   * Worker and actor lanes: when the thread began the handler, on this (the reactor's)
   * thread's `performance.now()` clock; `performance.timeOrigin + beganAt` is epoch ms.
   * The queue wait ends and the run starts here.
   */
  readonly beganAt?: number;
}

/**
 * What a server interceptor sees of a call, before any lane has it. `metadata` may be
 * changed (the handler sees the change, on every lane); `identity` set here reaches the
 * handler as `ctx.identity` (a JSON-serialisable value: worker and actor threads get a copy).
 *
 * Its fields are its own, so `{ ...call }` copies them, except `metadata`, which is copied
 * from the call only when first read (most interceptors never do); `JSON.stringify(call)`
 * gives them all, for a log line.
 */
export interface ServerCallInfo {
  readonly service: string;
  readonly method: string;
  readonly requestId: number;
  /** The protocol the call came by. */
  readonly protocol: CallProtocol;
  /** The lane the call goes to once every interceptor has called `next()`. */
  readonly lane: Lane;
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
  /**
   * Follows the call's attempts (tracing sets it): called as each attempt is sent. An
   * interceptor that sets it keeps the one it found and calls it too, so that several may
   * follow attempts. Undefined: nobody follows them.
   */
  onAttempt?: AttemptHook | undefined;
}

/** One attempt of a client call as it is sent: the first, a retry, or a transparent resend. */
export interface ClientAttempt {
  /** 1 for the first send of the call, 2 for the next, and so on (retries and transparent resends alike). */
  readonly attempt: number;
  /** The instance the attempt goes to. */
  readonly host: string;
  readonly port: number;
  /** This attempt's own copy of the call's metadata: keys set here go with this attempt only (a `traceparent`). */
  readonly metadata: Record<string, string>;
}

/**
 * Called as an attempt is sent. A function it returns is told once how the attempt ended:
 * with no argument for OK, else with the error the attempt failed with (which may or may
 * not be retried).
 */
export type AttemptHook = (attempt: ClientAttempt) => ((error?: RpcError) => void) | undefined;

/**
 * A client interceptor: wraps each call of a client, all of its attempts included. It
 * may change `call.metadata`, `key` and `timeoutMs`, refuse the call by throwing, and
 * await, replace or wrap what `next()` resolves with (the reply) or rejects with (an
 * `RpcError`). The first interceptor given is outermost.
 *
 * Streams are intercepted before they open, the same way: `call.request` is a server
 * stream's request, or the request source of a client or bidirectional stream; `next()`
 * opens the stream and settles when it ends — with the reply of a client stream (what the
 * interceptors return is its result), with `undefined` for a server or bidirectional
 * stream (its replies go to its reader; what the interceptors return is ignored, but a
 * throw or rejection before the stream ended fails it). `onAttempt` is called for each
 * send: a stream is sent again only transparently, when it provably never ran (a GOAWAY
 * that says so, or never written while another instance is ready), never by the retry
 * policy.
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
