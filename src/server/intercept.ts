import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { encodeMeta } from '../protocol/meta.js';
import { compose, type CallOutcome, type Lane, type ServerCallInfo } from '../pipeline/interceptor.js';
import type { CallProtocol, Peer } from '../pipeline/handler-context.js';
import type { Route } from './router.js';
import type { CallEndListener, ServerCall } from './server-call.js';
import { callOutcome } from './call-outcome.js';

/**
 * Hands an admitted call to its lane through the route's interceptors. Only routes with
 * interceptors come here (the connection hands the others over directly, at no cost).
 *
 * `meta` and `body` are views of the socket's read chunk, valid in this tick only. When
 * every interceptor calls `next()` at once (no await before it: the common pass-through,
 * logging or timing interceptor), the call reaches its lane within this tick and the views
 * go as they are; when one awaits first, they are copied before this function returns.
 * When an interceptor changed the metadata, the Meta is encoded again, so that a worker or
 * actor thread (which decodes it itself) sees the change too.
 */
export function interceptCall(call: ServerCall, route: Route, meta: Uint8Array, body: Uint8Array): void {
  const intercepted = new InterceptedCall(call, route, meta, body);
  const interceptors = route.interceptors;
  let result: Promise<CallOutcome>;
  if (interceptors.length === 1) {
    // One interceptor (the usual case) needs no composition: `next` is already safe to call twice.
    try {
      result = Promise.resolve(interceptors[0]!(intercepted, intercepted.next));
    } catch (err) {
      result = Promise.reject(err);
    }
  } else {
    result = compose(interceptors, intercepted, intercepted.next);
  }
  if (!intercepted.handedOver) {
    result.then(
      () => intercepted.settled(),
      (err: unknown) => intercepted.refused(err),
    );
  } else if (result !== intercepted.outcome) {
    // next() was called in this tick: the call answers for itself, and what the
    // interceptors make of its outcome no longer matters, but a rejection must be caught.
    result.then(undefined, ignoreRejection);
  }
  // (A pass-through interceptor returns next()'s own promise, which never rejects: nothing to watch.)
  intercepted.keepBytes();
}

/**
 * One call on its way through its route's interceptors: what they see of it
 * ({@link ServerCallInfo}: its own fields, so that `{ ...call }` copies them), and its
 * hand-over to the lane, in private fields. The metadata is copied only when an
 * interceptor reads it (most do not), and compared with the original only then.
 */
class InterceptedCall implements ServerCallInfo, CallEndListener {
  readonly service: string;
  readonly method: string;
  readonly requestId: number;
  readonly protocol: CallProtocol;
  readonly lane: Lane;
  readonly key: string;
  readonly deadline: number;
  readonly peer: Peer;
  identity: unknown = undefined;
  readonly #call: ServerCall;
  readonly #route: Route;
  /** The request's bytes: the read chunk's views until {@link keepBytes}, then copies if still needed. */
  #meta: Uint8Array;
  #body: Uint8Array;
  #copied: Record<string, string> | undefined;
  #handedOver = false;
  /** When the call went to a worker or actor lane (`performance.now()`), the start of its `queuedMs`; 0 until then, and on the inline lane. */
  #submittedAt = 0;
  readonly #outcome: Promise<CallOutcome>;
  #resolveOutcome!: (outcome: CallOutcome) => void;

  constructor(call: ServerCall, route: Route, meta: Uint8Array, body: Uint8Array) {
    this.service = call.service;
    this.method = call.method;
    this.requestId = call.requestId;
    this.protocol = call.protocol;
    this.lane = route.lane.name;
    this.key = call.meta.key;
    this.deadline = call.deadline;
    this.peer = call.peer;
    this.#call = call;
    this.#route = route;
    this.#meta = meta;
    this.#body = body;
    this.#outcome = new Promise<CallOutcome>((resolve) => {
      this.#resolveOutcome = resolve;
    });
    call.onEnd = this;
  }

  /** Whether `next()` gave the call to its lane. */
  get handedOver(): boolean {
    return this.#handedOver;
  }

  /** What `next()` gives: the call's outcome, once it ends. */
  get outcome(): Promise<CallOutcome> {
    return this.#outcome;
  }

  get metadata(): Record<string, string> {
    this.#copied ??= Object.assign(Object.create(null) as Record<string, string>, this.#call.meta.metadata);
    return this.#copied;
  }

  /** For logs: `JSON.stringify(call)` gives what an interceptor sees, the metadata included. */
  toJSON(): ServerCallInfo {
    return { ...this, metadata: this.metadata };
  }

  /** The call ended (answered, cancelled or abandoned): `next()`'s promise resolves with how. */
  callEnded(status: number): void {
    this.#call.onEnd = undefined;
    this.#resolveOutcome(callOutcome(this.#call, status, this.lane, this.#submittedAt));
  }

  /** The interceptors' `next()`: hands the call to its lane, once, and gives its outcome. */
  get next(): () => Promise<CallOutcome> {
    return this.#next;
  }

  readonly #next = (): Promise<CallOutcome> => {
    const call = this.#call;
    if (this.#handedOver || call.ended) return this.#outcome;
    this.#handedOver = true;
    // Worker and actor threads get the identity as JSON: one that is not JSON would fail
    // inside the lane, after the call took a slot, and leave it unanswered.
    if (this.identity !== undefined && !serializable(this.identity)) {
      call.replyError(new RpcError(Status.INTERNAL, `an interceptor of ${call.service}/${call.method} set an identity that is not JSON-serialisable`));
      return this.#outcome;
    }
    call.identity = this.identity;
    if (this.#copied !== undefined && !sameMetadata(call.meta.metadata, this.#copied)) {
      call.meta.metadata = this.#copied;
      this.#meta = encodeMeta({ ...call.meta, timeoutMs: 0, status: 0, message: '', lastRequestId: 0 });
    }
    // Only a thread's begin time makes a queue wait: the inline lane has none to time.
    if (this.lane !== 'inline') this.#submittedAt = performance.now();
    this.#route.lane.submit(call, this.#meta, this.#body);
    return this.#outcome;
  };

  /** The interceptors returned: a bug if none of them called `next()` nor threw. */
  settled(): void {
    if (!this.#handedOver && !this.#call.ended) {
      this.#call.replyError(new RpcError(Status.INTERNAL, `an interceptor of ${this.service}/${this.method} returned without calling next() or throwing`));
    }
  }

  /** An interceptor threw: refused before its lane had it (after that, the call answers for itself). */
  refused(err: unknown): void {
    if (!this.#handedOver && !this.#call.ended) this.#call.replyError(RpcError.from(err, Status.UNKNOWN));
  }

  /** Called as the reactor's turn ends: an interceptor still awaiting keeps copies, since the read chunk will be reused. */
  keepBytes(): void {
    if (this.#handedOver || this.#call.ended) return;
    this.#meta = Buffer.from(this.#meta);
    this.#body = Buffer.from(this.#body);
  }
}

function ignoreRejection(): void {}

function serializable(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

function sameMetadata(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}
