import type { MessageInit } from '../codec/message-types.js';
import type { MethodKind } from '../codec/service-definition.js';
import type { RpcError } from '../errors.js';
import type { CallOptions } from './call-options.js';

/** Node-style callback of a unary stub method. */
export type Callback<O> = (error: RpcError | null, reply?: O) => void;

/** A unary stub method: promise or callback, per-call options, and `.oneway()`. */
export interface UnaryMethod<I, O> {
  (request: MessageInit<I>, options?: CallOptions): Promise<O>;
  (request: MessageInit<I>, callback: Callback<O>): void;
  (request: MessageInit<I>, options: CallOptions, callback: Callback<O>): void;
  /** Sends the request as ONEWAY: the server runs it and answers nothing (never retried). */
  oneway(request: MessageInit<I>, options?: Pick<CallOptions, 'metadata' | 'key'>): void;
}

/**
 * Options of a streaming call: a unary call's (`timeoutMs` covers the whole stream,
 * `onMetadata` receives the trailing metadata of a stream that ended OK, once its reader
 * has read every reply), plus the window.
 * A stream is sent again, transparently, only when it provably never ran (a GOAWAY that
 * says so, or never written while another instance is ready) and the server showed
 * nothing of it; never by the retry policy.
 */
export interface StreamCallOptions extends CallOptions {
  /**
   * Bytes of the server's messages this stream may hold unread before the server waits
   * (spec §Streams, `Meta.window`). Default: the client's `streamWindowBytes` (65,536).
   */
  window?: number;
}

/**
 * The replies of a server or bidirectional stream, in order. Iterate it once (`for await`);
 * it ends when the server ends the stream OK and rejects with the `RpcError` it ended with
 * otherwise (UNAVAILABLE when the connection is lost). Leaving the loop early (`break`,
 * `return`, a throw) cancels the stream, as does the call's `signal`.
 */
export interface ReplyStream<O> extends AsyncIterable<O> {
  /** Cancels the stream (CANCEL to the server); an iteration under way ends CANCELLED. Idempotent. */
  cancel(): void;
}

/** Requests of a client or bidirectional stream: any iterable, sync (an array) or async. */
export type RequestSource<I> = AsyncIterable<MessageInit<I>> | Iterable<MessageInit<I>>;

/** A server-streaming stub method: one request, a stream of replies. */
export type ServerStreamMethod<I, O> = (request: MessageInit<I>, options?: StreamCallOptions) => ReplyStream<O>;

/**
 * A client-streaming stub method: sends the requests as they come (half-closing after the
 * last), resolves with the one reply. A source that throws cancels the stream and rejects
 * with that error (as an `RpcError`, CANCELLED unless it is one).
 */
export type ClientStreamMethod<I, O> = (requests: RequestSource<I>, options?: StreamCallOptions) => Promise<O>;

/** A bidirectional stub method: requests sent as they come, replies as they arrive. */
export type BidiStreamMethod<I, O> = (requests: RequestSource<I>, options?: StreamCallOptions) => ReplyStream<O>;

/** The stub method of a method of kind `K` (a kind not known statically: unary's). */
export type StubOf<K extends MethodKind, I, O> = [K] extends ['server_stream']
  ? ServerStreamMethod<I, O>
  : [K] extends ['client_stream']
    ? ClientStreamMethod<I, O>
    : [K] extends ['bidi_stream']
      ? BidiStreamMethod<I, O>
      : UnaryMethod<I, O>;
