import { RUN_TIME_WORDS } from './run-times.js';

/** What a slot holds: something to tell when its call is aborted. */
export interface SlotHolder {
  onAbort: (() => void) | undefined;
  hasBegun: (() => boolean) | undefined;
  /** True when the thread that runs it should stamp its run times (run-times.ts). */
  readonly timed: boolean;
}

/**
 * The worker lane's admission table: one slot per request taken and not yet answered,
 * `size` in all (the lane's `maxQueue`). A slot also indexes two `Int32Array`s in
 * SharedArrayBuffers shared with the workers:
 * - cancel flags, which the reactor sets when the call is aborted (CANCEL, lost client,
 *   shutdown), so a queued request is skipped and a running async handler sees
 *   `ctx.signal` abort;
 * - started flags, which a worker sets (to its threadId) when it takes the request up, so
 *   when a worker dies the reactor knows which of its requests never began and can run them
 *   elsewhere, and which of its streams (which outlive their batch) died with it;
 * - run times, which a worker stamps for a timed call (run-times.ts);
 * - credits of server streams (thread-stream.ts): the reactor adds the client's grants, the
 *   worker takes what it sends and, out of credit, waits on the word, which a grant or an
 *   abort of the call notifies.
 */
export class WorkerSlots<T extends SlotHolder> {
  /** The cancel flags, shared with the workers. */
  readonly memory: SharedArrayBuffer;
  /** The started flags, shared with the workers. */
  readonly startedMemory: SharedArrayBuffer;
  /** The run times, shared with the workers. */
  readonly runTimesMemory: SharedArrayBuffer;
  /** The credit of each slot's server stream, shared with the workers. */
  readonly creditMemory: SharedArrayBuffer;
  readonly credits: Int32Array;
  private readonly cancelled: Int32Array;
  private readonly started: Int32Array;
  private readonly runTimes: Float64Array;
  private readonly entries: Array<T | undefined>;
  private readonly free: number[];

  constructor(readonly size: number) {
    this.memory = new SharedArrayBuffer(size * 4);
    this.cancelled = new Int32Array(this.memory);
    this.startedMemory = new SharedArrayBuffer(size * 4);
    this.started = new Int32Array(this.startedMemory);
    this.runTimesMemory = new SharedArrayBuffer(size * RUN_TIME_WORDS * 8);
    this.runTimes = new Float64Array(this.runTimesMemory);
    this.creditMemory = new SharedArrayBuffer(size * 4);
    this.credits = new Int32Array(this.creditMemory);
    this.entries = new Array(size).fill(undefined);
    this.free = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  /** Slots in use. */
  get inUse(): number {
    return this.size - this.free.length;
  }

  /** Takes a slot for `entry`; undefined when all are in use (the queue is full). */
  acquire(entry: T): number | undefined {
    const slot = this.free.pop();
    if (slot === undefined) return undefined;
    this.entries[slot] = entry;
    Atomics.store(this.cancelled, slot, 0);
    Atomics.store(this.started, slot, 0);
    // Published to the worker with the batch that carries the call (postMessage orders it).
    this.runTimes[RUN_TIME_WORDS * slot] = entry.timed ? 0 : -1;
    entry.onAbort = () => {
      Atomics.store(this.cancelled, slot, 1);
      // After the flag: a stream's worker waiting for credit wakes and sees it (no waiter: no cost).
      Atomics.notify(this.credits, slot);
    };
    entry.hasBegun = () => Atomics.load(this.started, slot) !== 0;
    return slot;
  }

  get(slot: number): T | undefined {
    return this.entries[slot];
  }

  /** True once a worker took the request in `slot` up (it may have run, or be running, its handler). */
  hasStarted(slot: number): boolean {
    return Atomics.load(this.started, slot) !== 0;
  }

  /** The threadId of the worker that took up the request in `slot`, 0 for none yet. */
  startedBy(slot: number): number {
    return Atomics.load(this.started, slot);
  }

  /** When a worker began the timed call in `slot` (the reactor's `performance.now()`), or 0: not timed, or not begun. */
  beganAt(slot: number): number {
    return Math.max(0, this.runTimes[RUN_TIME_WORDS * slot]!);
  }

  /** When its worker wrote its response; meaningful only when {@link beganAt} is not 0. */
  endedAt(slot: number): number {
    return this.runTimes[RUN_TIME_WORDS * slot + 1]!;
  }

  /** Frees a slot (its record arrived, or its batch ended); returns what it held. */
  release(slot: number): T | undefined {
    const entry = this.entries[slot];
    if (entry === undefined) return undefined;
    entry.onAbort = undefined;
    entry.hasBegun = undefined;
    this.entries[slot] = undefined;
    Atomics.store(this.cancelled, slot, 0);
    this.free.push(slot);
    return entry;
  }
}
