/** Peer of a server connection. */
export interface Peer {
  readonly address: string;
  readonly port: number;
}

/**
 * What a handler knows about its call (`async (request, ctx) => reply`).
 * The same shape on the inline and the worker lane.
 */
export interface HandlerContext {
  /** Fully qualified service, e.g. `bench.v1.Bench`. */
  readonly service: string;
  /** Method name, e.g. `Echo`. */
  readonly method: string;
  /** The request's id on its connection. */
  readonly requestId: number;
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
}

/** A unary handler: takes the decoded request, returns the reply (or a promise of it). */
export type Handler<I = any, O = any> = (request: I, ctx: HandlerContext) => O | Promise<O>;
