import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { Meta } from '../protocol/meta.js';
import type { HandlerContext, Peer } from './handler-context.js';
import type { Route } from './router.js';

/**
 * Lifecycle of a call on the server:
 * - `pending`: taken, not yet handed to its handler (decompressing, queued for a worker);
 * - `running`: its handler runs;
 * - `done`: answered, cancelled by the client, or abandoned with its connection. Nothing
 *   more is written for a call in this state, so each is answered at most once.
 */
export type ServerCallState = 'pending' | 'running' | 'done';

/** What a call needs from its connection. */
export interface CallOwner {
  readonly peer: Peer;
}

/**
 * One taken REQUEST or ONEWAY. It is also the handler's {@link HandlerContext}: one
 * object per call, and the AbortController behind `signal` (with its deadline timer) is
 * only created if the handler looks at `signal`.
 */
export class ServerCall implements HandlerContext {
  state: ServerCallState = 'pending';
  private controller: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private abortReason: RpcError | undefined;
  private outgoingMetadata: Record<string, string> | undefined;
  /** Set by a lane that must hear of an abort (the worker lane flags it in shared memory). */
  onAbort: (() => void) | undefined;

  constructor(
    readonly owner: CallOwner,
    readonly requestId: number,
    readonly route: Route,
    readonly meta: Meta,
    /** Epoch ms at which the client stops waiting; `Infinity` for none. */
    readonly deadline: number,
    /** ONEWAY: run, never answer. */
    readonly oneway: boolean,
  ) {}

  /** When the call was taken (`performance.now()`), for its latency. */
  readonly startedAt = performance.now();

  get service(): string {
    return this.route.method.service;
  }

  get method(): string {
    return this.route.method.name;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.meta.metadata;
  }

  get peer(): Peer {
    return this.owner.peer;
  }

  get responseMetadata(): Record<string, string> {
    return (this.outgoingMetadata ??= {});
  }

  /** Metadata set by the handler, if any (for the response's Meta). */
  get responseMetadataIfSet(): Record<string, string> | undefined {
    return this.outgoingMetadata;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) {
        this.controller.abort(this.abortReason);
      } else if (this.deadline !== Infinity && this.state !== 'done') {
        const ms = Math.max(0, this.deadline - Date.now());
        this.deadlineTimer = setTimeout(() => this.expire(), ms);
        this.deadlineTimer.unref();
      }
    }
    return this.controller.signal;
  }

  /** True once the deadline has passed. */
  expired(now = Date.now()): boolean {
    return now >= this.deadline;
  }

  /**
   * Ends the call without an answer (CANCEL, connection lost, forced shutdown) and
   * aborts its signal. Returns false when it had already ended.
   */
  abort(reason: RpcError): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.abortReason = reason;
    this.clearTimer();
    this.onAbort?.();
    this.controller?.abort(reason);
    return true;
  }

  /** Claims the right to answer; false when the call already ended. */
  finish(): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.clearTimer();
    return true;
  }

  private expire(): void {
    this.deadlineTimer = undefined;
    const reason = new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${this.service}/${this.method} passed while its handler ran`);
    this.abortReason = reason;
    // The call stays open: the handler's answer (most likely this reason) is still sent.
    this.controller?.abort(reason);
  }

  private clearTimer(): void {
    if (this.deadlineTimer !== undefined) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }
}
