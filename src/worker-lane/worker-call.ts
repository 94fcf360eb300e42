import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition } from '../codec/service-definition.js';
import { FrameType, HEADER_BYTES, type Compression } from '../protocol/constants.js';
import { writeHeader } from '../protocol/frame.js';
import { decodeMeta, type Meta } from '../protocol/meta.js';
import type { Actor, CallProtocol, Handler, Peer } from '../pipeline/handler-context.js';
import { PipelineCall } from '../pipeline/call-pipeline.js';
import { errorMeta, okMeta } from '../pipeline/response-meta.js';
import { decodePeer, REPLIES_PLAIN, type BatchEntry } from './batch-codec.js';

/** Where a worker writes a call's one record: its ring, or the batch's fallback buffer. */
export type RecordSink = (slot: number, status: number, parts: readonly Uint8Array[]) => void;

/**
 * The calls of one worker thread whose handler looked at `ctx.signal`. While any runs, a
 * 5 ms poll checks their cancel flags (set by the reactor in shared memory) and deadlines,
 * so an async handler sees a cancel without its thread being killed.
 */
export class AbortPoll {
  private readonly calls = new Set<WorkerCall>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly cancelled: Int32Array) {}

  isCancelled(slot: number): boolean {
    return Atomics.load(this.cancelled, slot) === 1;
  }

  add(call: WorkerCall): void {
    this.calls.add(call);
    this.timer ??= setInterval(() => this.poll(), 5);
    call.check(Date.now());
  }

  delete(call: WorkerCall): void {
    this.calls.delete(call);
  }

  private poll(): void {
    const now = Date.now();
    for (const call of this.calls) call.check(now);
    if (this.calls.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** How often a worker looks for async calls it awaits past their deadline. */
const OVERDUE_CHECK_MS = 100;

/**
 * The async calls a worker thread awaits. While any runs, the one furthest past its
 * deadline is named to the reactor (`report`, into the ring's control block): a handler
 * that ignores its signal and never settles does not block the thread, so only this tells
 * the reactor's watchdog to recycle the worker once the grace period has passed too.
 */
export class RunningCalls {
  private readonly calls = new Set<WorkerCall>();
  private timer: NodeJS.Timeout | undefined;
  /** The call named to the reactor now, if any. */
  private reported: WorkerCall | undefined;

  constructor(private readonly report: (slot: number) => void) {}

  /** Follows `call` until `settled` (the pipeline's promise, which never rejects). */
  add(call: WorkerCall, settled: Promise<void>): void {
    this.calls.add(call);
    this.timer ??= setInterval(() => this.check(), OVERDUE_CHECK_MS);
    void settled.then(() => {
      this.calls.delete(call);
      // Its slot may be reused at once: it must not stay named for another call's sake.
      if (this.reported === call) this.check();
    });
  }

  private check(): void {
    const now = Date.now();
    let overdue: WorkerCall | undefined;
    for (const call of this.calls) {
      if (call.deadline <= now && (overdue === undefined || call.deadline < overdue.deadline)) overdue = call;
    }
    this.reported = overdue;
    this.report(overdue === undefined ? -1 : overdue.entry.slot);
    if (this.calls.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * A call in a worker thread: its handler's context, read lazily from the batch entry
 * (metadata and peer are decoded only if the handler asks), answered as one record: a
 * whole RESPONSE frame, or an empty record when no answer is owed (it was cancelled).
 */
export class WorkerCall extends PipelineCall {
  private decodedMeta: Meta | undefined;
  private parsedPeer: ReturnType<typeof decodePeer> | undefined;
  /** On the actor lane: the actor of the call's key, once its turn has come. */
  actor: Actor | undefined;
  /** Its one record was written: whatever tries to answer it later is ignored. */
  private answered = false;

  constructor(
    readonly entry: BatchEntry,
    readonly definition: MethodDefinition,
    readonly handler: Handler,
    private readonly sink: RecordSink,
    private readonly aborts: AbortPoll,
    /** Told when the handler is about to run (the thread marks the call begun, and counts it). */
    private readonly onBegin: (slot: number) => void,
  ) {
    super();
    this.plainReplies = (entry.compression & REPLIES_PLAIN) !== 0;
  }

  get service(): string {
    return this.definition.service;
  }
  get method(): string {
    return this.definition.name;
  }
  get requestId(): number {
    return this.entry.requestId;
  }
  get deadline(): number {
    return this.entry.deadline;
  }
  get metadata(): Readonly<Record<string, string>> {
    return (this.decodedMeta ??= decodeMeta(this.entry.meta)).metadata;
  }
  /** The call's key (`Meta.key`), `''` for none. */
  get key(): string {
    return (this.decodedMeta ??= decodeMeta(this.entry.meta)).key;
  }
  get peer(): Peer {
    return (this.parsedPeer ??= decodePeer(this.entry.peer)).peer;
  }
  get identity(): unknown {
    return (this.parsedPeer ??= decodePeer(this.entry.peer)).identity;
  }
  override get protocol(): CallProtocol {
    return (this.parsedPeer ??= decodePeer(this.entry.peer)).protocol;
  }
  get ended(): boolean {
    return this.answered || this.aborts.isCancelled(this.entry.slot);
  }
  override get waitedIn(): string {
    return this.actor === undefined ? ' in the worker queue' : ` in the queue of actor ${JSON.stringify(this.actor.key)}`;
  }

  override begin(): boolean {
    this.onBegin(this.entry.slot); // marks it begun, before the cancel flag is read again
    return !this.ended;
  }

  replyOk(body: Uint8Array, compression: Compression): void {
    this.frame(Status.OK, okMeta(this.responseMetadataIfSet, compression), body);
  }

  replyError(error: RpcError): void {
    this.frame(error.code, errorMeta(error, this.responseMetadataIfSet), new Uint8Array(0));
  }

  override drop(): void {
    if (this.answered) return;
    this.answered = true;
    this.aborts.delete(this);
    this.sink(this.entry.slot, Status.CANCELLED, []); // the empty record frees the slot
  }

  protected watch(): void {
    this.aborts.add(this);
  }

  /**
   * Aborts the handler's signal if the client cancelled or the deadline passed. A call past
   * its deadline is DEADLINE_EXCEEDED even when flagged: the reactor flags the calls whose
   * deadline it answers itself (a stream's, or under `callTimeoutMs`) as it flags a cancel.
   */
  check(now: number): void {
    if (this.aborts.isCancelled(this.entry.slot) && now < this.entry.deadline) {
      this.abortSignal(new RpcError(Status.CANCELLED, `${this.service}/${this.method} cancelled by the client`));
    } else if (now >= this.entry.deadline) {
      this.abortSignal(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${this.service}/${this.method} passed while its handler ran`));
    }
  }

  private frame(status: number, meta: Uint8Array, body: Uint8Array): void {
    if (this.answered) return;
    this.answered = true;
    this.aborts.delete(this);
    const head = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(head, 0, FrameType.RESPONSE, this.entry.requestId, meta.length, body.length);
    this.sink(this.entry.slot, status, [head, meta, body]);
  }
}
