import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition } from '../codec/service-definition.js';
import { Compression } from '../protocol/constants.js';
import type { FrameBody } from '../protocol/frame.js';
import type { Meta } from '../protocol/meta.js';
import type { CallProtocol, Handler, Peer } from '../pipeline/handler-context.js';
import { PipelineCall } from '../pipeline/call-pipeline.js';
import type { CallStream } from '../pipeline/stream-pipeline.js';
import type { MethodStats } from './server-stats.js';
import { MAX_TIMER_MS } from '../util/validate.js';

/**
 * Lifecycle of a call on the server:
 * - `pending`: taken, not yet handed to its handler (decompressing, queued for a worker);
 * - `running`: its handler runs;
 * - `done`: answered, cancelled by the client, or abandoned with its connection. Nothing
 *   more is written for a call in this state, so each is answered at most once.
 */
export type ServerCallState = 'pending' | 'running' | 'done';

/** What waits for a call's end: told once, with its status (an interception's outcome). */
export interface CallEndListener {
  callEnded(status: number): void;
}

/** When a request was read, on both clocks. */
export interface ReadTime {
  /** Epoch ms (`Date.now()`): the start of its deadline. */
  readonly readAt: number;
  /** `performance.now()`: the start of its latency. */
  readonly readAtMono: number;
}

/** What a call knows of its method: definition, handler, counters. */
export interface CallRoute {
  readonly method: MethodDefinition;
  readonly handler: Handler;
  /** The method's counters (mutable). */
  readonly stats: MethodStats;
}

/** The connection a call came in on: it writes the answers and keeps the books. */
export interface CallOwner {
  readonly peer: Peer;
  /** The protocol of the connection: every call on it came by it. */
  readonly protocol: CallProtocol;
  /** Reply bodies shorter than this are copied before `replyOk` returns (see `PipelineCall.copiesRepliesBelow`). */
  readonly copiesRepliesBelow: number;
  /** Answers OK with an encoded reply body (in pieces: uncompressed, see `encodeSplit`). */
  replyOk(call: ServerCall, body: FrameBody, compression: Compression): void;
  /** Answers with an error status (or reports it, for ONEWAY). */
  replyError(call: ServerCall, error: RpcError): void;
  /** Answers with a whole RESPONSE frame built elsewhere (a worker); `status` is for the counters. */
  replyFrame(call: ServerCall, status: number, frame: Buffer): void;
}

/**
 * One taken REQUEST or ONEWAY: what a lane is handed. It knows how to answer (through
 * the connection it came in on), and it is also the handler's context on the inline
 * lane: one object per call.
 */
export class ServerCall extends PipelineCall {
  state: ServerCallState = 'pending';
  /** Either the deadline timer behind `signal` or, under a server limit, the limit's. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private abortReason: RpcError | undefined;
  /** Set by a lane that must hear of an abort (the worker lane flags it in shared memory). */
  onAbort: (() => void) | undefined;
  /**
   * Set by a lane that hands calls to another thread: whether that thread has begun it. A
   * call handed over but still held behind another is `running` here, yet never began.
   */
  hasBegun: (() => boolean) | undefined;
  /** Who the caller is, as a server interceptor set it (`ctx.identity`). */
  identity: unknown = undefined;
  /** Told once, with its status, when the call ends (answered, cancelled or abandoned); set by interception. */
  onEnd: CallEndListener | undefined;
  /**
   * For an intercepted call that failed, what it failed with: the error, or the worker's
   * whole RESPONSE frame (whose Meta holds the message), so an interceptor may read why.
   */
  failure: RpcError | Buffer | undefined;
  /** When a worker or actor thread began its handler and wrote its response (this thread's `performance.now()`); 0: none did. */
  threadBeganAt = 0;
  threadEndedAt = 0;
  /** A stream method's call: its streams' state (flow control, requests read); set by the connection that took it. */
  stream: CallStream | undefined = undefined;
  /**
   * Whether the server answers DEADLINE_EXCEEDED itself when the deadline passes: under its
   * own limit (the client still waits), and for a stream, whose deadline covers it whole (a
   * generator waiting for credit has no answer of its own to give).
   */
  private readonly answersAtDeadline: boolean;

  constructor(
    private readonly owner: CallOwner,
    readonly requestId: number,
    readonly route: CallRoute,
    readonly meta: Meta,
    /** Epoch ms at which the client stops waiting; `Infinity` for none. */
    readonly deadline: number,
    /** ONEWAY: run, never answer. */
    private readonly isOneway: boolean,
    /**
     * The server's `callTimeoutMs`, when it (not the client) set `deadline`. The client is
     * still waiting then, so the server answers at the deadline instead of only signalling.
     */
    readonly serverLimitMs: number | undefined,
    /** When its request was read (`performance.now()`), for its latency. */
    readonly startedAt: number,
  ) {
    super();
    this.answersAtDeadline = serverLimitMs !== undefined || route.method.kind !== 'unary';
    if (this.answersAtDeadline && deadline !== Infinity) this.armLimit();
  }

  /**
   * A call read at `read` (epoch ms for the deadline, `performance.now()` for the latency;
   * a connection reads its clocks once per chunk, not per call): its deadline is the
   * client's (`meta.timeoutMs`), unless the server's own limit (`callTimeoutMs`, 0 for
   * none) comes first.
   */
  static take(owner: CallOwner, requestId: number, route: CallRoute, meta: Meta, oneway: boolean, read: ReadTime, limitMs: number): ServerCall {
    const readAt = read.readAt;
    const clientDeadline = meta.timeoutMs > 0 ? readAt + meta.timeoutMs : Infinity;
    return limitMs > 0 && readAt + limitMs < clientDeadline
      ? new ServerCall(owner, requestId, route, meta, readAt + limitMs, oneway, limitMs, read.readAtMono)
      : new ServerCall(owner, requestId, route, meta, clientDeadline, oneway, undefined, read.readAtMono);
  }

  get definition(): MethodDefinition {
    return this.route.method;
  }

  get handler(): Handler {
    return this.route.handler;
  }

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

  override get protocol(): CallProtocol {
    return this.owner.protocol;
  }

  override get copiesRepliesBelow(): number {
    return this.owner.copiesRepliesBelow;
  }

  override get oneway(): boolean {
    return this.isOneway;
  }

  get ended(): boolean {
    return this.state === 'done';
  }

  /** True when someone awaits the call's outcome (an interceptor): a worker then times its run for it. */
  get timed(): boolean {
    return this.onEnd !== undefined;
  }

  /** The deadline as messages name it: the client's, or the server's limit. */
  override get deadlineName(): string {
    return this.serverLimitMs === undefined ? 'its deadline' : `the server's callTimeoutMs of ${this.serverLimitMs} ms`;
  }

  override begin(): boolean {
    if (this.state === 'done') return false;
    this.state = 'running';
    return true;
  }

  /** A lane handed the call to a thread that may run it (a worker): `running`, unless it ended. */
  handOff(): void {
    if (this.state === 'pending') this.state = 'running';
  }

  /** The thread it was handed to died before taking it up: `pending` again, unless it ended. */
  requeue(): void {
    if (this.state === 'running') this.state = 'pending';
  }

  replyOk(body: Uint8Array, compression: Compression): void {
    this.owner.replyOk(this, body, compression);
  }

  /** The pieces go to the connection's writer as they are: a large `bytes` field is not copied. */
  override replyOkPieces(pieces: readonly Uint8Array[]): void {
    this.owner.replyOk(this, pieces, Compression.NONE);
  }

  replyError(error: RpcError): void {
    if (this.onEnd !== undefined && this.state !== 'done') this.failure = error;
    this.owner.replyError(this, error);
  }

  /** Answers with a whole RESPONSE frame a worker built; `status` is for the counters. */
  replyFrame(status: number, frame: Buffer): void {
    if (status !== Status.OK && this.onEnd !== undefined && this.state !== 'done') this.failure = frame;
    this.owner.replyFrame(this, status, frame);
  }

  protected watch(): void {
    if (this.abortReason !== undefined) this.abortSignal(this.abortReason);
    else if (this.deadline !== Infinity && this.state !== 'done' && !this.answersAtDeadline) this.armExpiry();
  }

  /**
   * Ends the call without an answer (CANCEL, connection lost, forced shutdown) and
   * aborts its signal. Returns false when it had already ended.
   */
  abort(reason: RpcError): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.clearTimer();
    if (this.onEnd !== undefined) {
      this.failure = reason;
      this.onEnd.callEnded(reason.code);
    }
    this.stop(reason);
    this.stream?.end(reason);
    return true;
  }

  /**
   * Ends the call with `error` and aborts its handler's signal: a stream broken by its
   * client's input, whose handler must stop as for a cancel.
   */
  fail(error: RpcError): void {
    if (this.state === 'done') return;
    this.replyError(error);
    this.stop(error);
  }

  /** Claims the right to answer with `status`; false when the call already ended. */
  finish(status: number): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    this.clearTimer();
    this.onEnd?.callEnded(status);
    this.stream?.end(status);
    return true;
  }

  /** Tells a handler (and its lane) to stop: its signal aborts with `reason`. */
  private stop(reason: RpcError): void {
    this.abortReason = reason;
    this.onAbort?.();
    this.abortSignal(reason);
  }

  /** The timer of a deadline the server answers itself (see `answersAtDeadline`), re-armed past a timer's range. */
  private armLimit(): void {
    this.deadlineTimer = setTimeout(() => this.limitReached(), Math.min(MAX_TIMER_MS, Math.max(0, this.deadline - Date.now())));
    this.deadlineTimer.unref();
  }

  /** The deadline passed: answer DEADLINE_EXCEEDED now, then stop the handler as a cancel does. */
  private limitReached(): void {
    this.deadlineTimer = undefined;
    if (this.state === 'done') return;
    if (this.deadline - Date.now() > 0) return this.armLimit();
    // The lane hears of the abort first: a worker that has not begun the call by now never
    // will (it checks the flag this sets), so `hasBegun` below is the truth, not a guess.
    this.onAbort?.();
    const begun = this.state === 'running' && (this.hasBegun?.() ?? true);
    const what = begun ? 'exceeded' : 'not started: it waited past';
    const reason = new RpcError(Status.DEADLINE_EXCEEDED, `${this.service}/${this.method} ${what} ${this.deadlineName}`, {
      notRun: begun ? undefined : 'refused',
    });
    this.replyError(reason);
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
    this.abortSignal(reason);
  }

  private clearTimer(): void {
    if (this.deadlineTimer !== undefined) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }
}
