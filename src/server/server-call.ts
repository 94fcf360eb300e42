import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { Meta } from '../protocol/meta.js';
import type { HandlerContext, Peer } from './handler-context.js';
import type { Route } from './router.js';
import { MAX_TIMER_MS } from '../util/validate.js';

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
  /** Answers the call with an error (once; a call already ended is left alone). */
  replyError(call: ServerCall, error: RpcError): void;
}

/**
 * One taken REQUEST or ONEWAY. It is also the handler's {@link HandlerContext}: one
 * object per call, and the AbortController behind `signal` (with its deadline timer) is
 * only created if the handler looks at `signal`.
 */
export class ServerCall implements HandlerContext {
  state: ServerCallState = 'pending';
  private controller: AbortController | undefined;
  /** Either the deadline timer behind `signal` or, under a server limit, the limit's. */
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
    /**
     * The server's `callTimeoutMs`, when it (not the client) set `deadline`. The client is
     * still waiting then, so the server answers at the deadline instead of only signalling.
     */
    readonly serverLimitMs?: number,
  ) {
    if (serverLimitMs !== undefined) {
      this.deadlineTimer = setTimeout(() => this.limitReached(), Math.max(0, deadline - Date.now()));
      this.deadlineTimer.unref();
    }
  }

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
      } else if (this.deadline !== Infinity && this.state !== 'done' && this.serverLimitMs === undefined) {
        this.armExpiry();
      }
    }
    return this.controller.signal;
  }

  /** True once the deadline has passed. */
  expired(now = Date.now()): boolean {
    return now >= this.deadline;
  }

  /** The deadline as messages name it: the client's, or the server's limit. */
  get deadlineName(): string {
    return this.serverLimitMs === undefined ? 'its deadline' : `the server's callTimeoutMs of ${this.serverLimitMs} ms`;
  }

  /**
   * Ends the call without an answer (CANCEL, connection lost, forced shutdown) and
   * aborts its signal. Returns false when it had already ended.
   */
  abort(reason: RpcError): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.clearTimer();
    this.stop(reason);
    return true;
  }

  /** Claims the right to answer; false when the call already ended. */
  finish(): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.clearTimer();
    return true;
  }

  /** Tells a handler (and its lane) to stop: its signal aborts with `reason`. */
  private stop(reason: RpcError): void {
    this.abortReason = reason;
    this.onAbort?.();
    this.controller?.abort(reason);
  }

  /** The server's limit passed: answer DEADLINE_EXCEEDED now, then stop the handler as a cancel does. */
  private limitReached(): void {
    this.deadlineTimer = undefined;
    if (this.state === 'done') return;
    const what = this.state === 'running' ? 'exceeded' : 'not started: it waited past';
    const reason = new RpcError(Status.DEADLINE_EXCEEDED, `${this.service}/${this.method} ${what} ${this.deadlineName}`);
    this.owner.replyError(this, reason);
    this.stop(reason);
  }

  /**
   * A client's deadline can lie further out than a Node timer holds (the wire's timeout is
   * 32 bits of ms, a timer 31): such a timer is re-armed until the deadline is reached.
   */
  private armExpiry(): void {
    this.deadlineTimer = setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, this.deadline - Date.now())));
    this.deadlineTimer.unref();
  }

  private expire(): void {
    if (this.deadline - Date.now() > 0) {
      this.armExpiry();
      return;
    }
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
