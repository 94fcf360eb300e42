import type { MethodKind } from '../codec/service-definition.js';
/** What a handler on the actor lane reaches through `ctx.actor`. */
export interface Actor<S = any> {
  /** The call's key (`Meta.key`): this actor's address. */
  readonly key: string;
  /**
   * The actor's state: what `activate` returned (`{}` without it). It stays in this worker
   * thread between calls of the key, and handlers may change or replace it.
   */
  state: S;
}

/** The identity in a client's TLS certificate (mutual TLS), as the server verified it. */
export interface PeerCertificate {
  /** The subject's attributes (`CN`, `O`, `OU`, …). */
  readonly subject: Readonly<Record<string, string>>;
  /** Subject alternative names as Node lists them: `DNS:api.example`, `URI:spiffe://…`, `IP Address:…`. */
  readonly subjectAltNames: readonly string[];
  /** SHA-256 fingerprint, `AA:BB:…`. */
  readonly fingerprint256: string;
}

/** The protocol a call came by: ringrpc's own framing, or gRPC over HTTP/2. */
export type CallProtocol = 'ringrpc' | 'grpc';

/** Peer of a server connection. */
export interface Peer {
  readonly address: string;
  readonly port: number;
  /** Under mutual TLS: the verified client certificate's identity; absent otherwise. */
  readonly certificate?: PeerCertificate;
}

/**
 * What a handler knows about its call (`async (request, ctx) => reply`).
 * The same shape on every lane.
 */
export interface HandlerContext {
  /** Fully qualified service, e.g. `bench.v1.Bench`. */
  readonly service: string;
  /** Method name, e.g. `Echo`. */
  readonly method: string;
  /** The request's id on its connection (under gRPC, its HTTP/2 stream id). */
  readonly requestId: number;
  /** The protocol the call came by, for logging: the handler runs the same either way. */
  readonly protocol: CallProtocol;
  /** Application metadata sent by the client. */
  readonly metadata: Readonly<Record<string, string>>;
  /** When the client stops waiting, in ms since the epoch; `Infinity` when it set no deadline. */
  readonly deadline: number;
  /**
   * Aborts when the call is cancelled (CANCEL frame), its deadline passes, the client's
   * connection is lost or the server force-closes. `signal.reason` is an `RpcError`.
   */
  readonly signal: AbortSignal;
  /** Address of the client. */
  readonly peer: Peer;
  /** Metadata to send back with the response (set keys on it). */
  readonly responseMetadata: Record<string, string>;
  /** Who the caller is, as a server interceptor (bearer-token authentication, say) set it; undefined without one. */
  readonly identity?: unknown;
  /** On the actor lane: the actor of the call's key (its key and state); undefined elsewhere. */
  readonly actor?: Actor | undefined;
}

/** The context of a handler on the actor lane, whose actor's state is of type `S`. */
export interface ActorContext<S = any> extends HandlerContext {
  readonly actor: Actor<S>;
}

/** A unary handler: takes the decoded request, returns the reply (or a promise of it). */
export type Handler<I = any, O = any> = (request: I, ctx: HandlerContext) => O | Promise<O>;

/**
 * A server-streaming handler: an async generator of the replies (`async function* (request,
 * ctx)`); returning ends the stream OK, throwing ends it with the error's status. It is
 * pulled only while the client has credit: a `yield` waits for a slow reader.
 */
export type ServerStreamHandler<I = any, O = any> = (request: I, ctx: HandlerContext) => AsyncIterable<O>;

/**
 * A client-streaming handler: reads the requests (`for await (const r of requests)`, which
 * ends at the client's half-close) and returns the one reply.
 */
export type ClientStreamHandler<I = any, O = any> = (requests: AsyncIterable<I>, ctx: HandlerContext) => O | Promise<O>;

/** A bidirectional handler: an async generator of replies over the requests as they come. */
export type BidiStreamHandler<I = any, O = any> = (requests: AsyncIterable<I>, ctx: HandlerContext) => AsyncIterable<O>;

/** The handler of a method of kind `K`, taking `I` and giving `O` (a kind not known statically: unary's). */
export type HandlerOf<K extends MethodKind, I, O> = [K] extends ['server_stream']
  ? ServerStreamHandler<I, O>
  : [K] extends ['client_stream']
    ? ClientStreamHandler<I, O>
    : [K] extends ['bidi_stream']
      ? BidiStreamHandler<I, O>
      : Handler<I, O>;

/** Any handler a server takes. */
export type AnyHandler = Handler | ServerStreamHandler | ClientStreamHandler | BidiStreamHandler;

/**
 * The part of a handler's context that is the same on every lane: the response metadata
 * the handler sets, and an `AbortSignal` made only when the handler looks at `signal`
 * (most never do, and a controller per call is not free). A lane says how a call learns
 * of its abort through {@link watch}: a timer on the reactor, a poll of shared memory in a
 * worker thread.
 */
export abstract class CallContext implements HandlerContext {
  abstract readonly service: string;
  abstract readonly method: string;
  abstract readonly requestId: number;
  abstract readonly metadata: Readonly<Record<string, string>>;
  abstract readonly deadline: number;
  abstract readonly peer: Peer;
  private controller: AbortController | undefined;
  private outgoing: Record<string, string> | undefined;

  /** ringrpc unless the call says otherwise (a gRPC call's owner does). */
  get protocol(): CallProtocol {
    return 'ringrpc';
  }

  get responseMetadata(): Record<string, string> {
    return (this.outgoing ??= {});
  }

  /** Metadata set by the handler, if any (for the response's Meta). */
  get responseMetadataIfSet(): Record<string, string> | undefined {
    return this.outgoing;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      this.watch();
    }
    return this.controller.signal;
  }

  /** True once the handler asked for its signal (only then is there anyone to tell of an abort). */
  protected get watched(): boolean {
    return this.controller !== undefined;
  }

  /** Aborts the handler's signal, if it has one and it is not aborted yet. */
  protected abortSignal(reason: unknown): void {
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Called once, when the handler first reads `signal`: start watching for an abort. */
  protected abstract watch(): void;
}
