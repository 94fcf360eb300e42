/** What a slot holds: something to tell when its call is aborted. */
export interface SlotHolder {
  onAbort: (() => void) | undefined;
  hasBegun: (() => boolean) | undefined;
}

/**
 * The worker lane's admission table: one slot per request taken and not yet answered,
 * `size` in all (the lane's `maxQueue`). A slot also indexes two `Int32Array`s in
 * SharedArrayBuffers shared with the workers:
 * - cancel flags, which the reactor sets when the call is aborted (CANCEL, lost client,
 *   shutdown), so a queued request is skipped and a running async handler sees
 *   `ctx.signal` abort;
 * - started flags, which a worker sets when it takes the request up, so when a worker dies
 *   the reactor knows which of its requests never began and can run them elsewhere.
 */
export class WorkerSlots<T extends SlotHolder> {
  /** The cancel flags, shared with the workers. */
  readonly memory: SharedArrayBuffer;
  /** The started flags, shared with the workers. */
  readonly startedMemory: SharedArrayBuffer;
  private readonly cancelled: Int32Array;
  private readonly started: Int32Array;
  private readonly entries: Array<T | undefined>;
  private readonly free: number[];

  constructor(readonly size: number) {
    this.memory = new SharedArrayBuffer(size * 4);
    this.cancelled = new Int32Array(this.memory);
    this.startedMemory = new SharedArrayBuffer(size * 4);
    this.started = new Int32Array(this.startedMemory);
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
    entry.onAbort = () => Atomics.store(this.cancelled, slot, 1);
    entry.hasBegun = () => Atomics.load(this.started, slot) === 1;
    return slot;
  }

  get(slot: number): T | undefined {
    return this.entries[slot];
  }

  /** True once a worker took the request in `slot` up (it may have run, or be running, its handler). */
  hasStarted(slot: number): boolean {
    return Atomics.load(this.started, slot) === 1;
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
