/** A scheduled callback of a {@link TimerQueue}; `cancel()` is idempotent. */
export interface QueuedTimer {
  cancel(): void;
}

interface Entry extends QueuedTimer {
  due: number;
  seq: number;
  fn: (() => void) | undefined;
  /** Whether this entry keeps the process alive (see {@link TimerQueue.schedule}). */
  ref: boolean;
}

/**
 * Many timers on one `setTimeout`: a binary min-heap ordered by due time, with one Node
 * timer armed for the earliest entry. Retry and reconnect backoffs go through it, so that
 * ten thousand calls waiting to retry cost one timer, not ten thousand.
 *
 * The Node timer is ref'd only while some entry asks to keep the process alive: a call
 * waiting to retry must (its caller awaits it), a background reconnect must not.
 */
export class TimerQueue {
  private readonly heap: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private refs = 0;
  private seq = 0;

  /** Runs `fn` after `delayMs`; `ref: false` lets the process exit while it waits. */
  schedule(delayMs: number, fn: () => void, ref = true): QueuedTimer {
    const entry: Entry = {
      due: Date.now() + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      ref,
      cancel: () => {
        if (entry.fn === undefined) return;
        entry.fn = undefined;
        if (entry.ref) this.unrefOne();
        // Left in the heap and skipped when it comes up: removal from the middle of a heap
        // is not worth its cost for timers that mostly fire.
      },
    };
    if (ref) this.refs++;
    this.push(entry);
    this.arm();
    if (ref && this.timer !== undefined) this.timer.ref();
    return entry;
  }

  /** Entries not yet run or cancelled (cancelled ones still in the heap are not counted). */
  get size(): number {
    return this.heap.reduce((n, e) => n + (e.fn === undefined ? 0 : 1), 0);
  }

  private unrefOne(): void {
    this.refs--;
    if (this.refs === 0) this.timer?.unref();
  }

  private arm(): void {
    const top = this.heap[0];
    if (top === undefined) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    if (this.timer !== undefined && this.armedFor <= top.due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = top.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.due - Date.now()));
    if (this.refs === 0) this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const entry = this.pop()!;
      const fn = entry.fn;
      if (fn === undefined) continue;
      entry.fn = undefined;
      if (entry.ref) this.unrefOne();
      fn();
    }
    this.arm();
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
    return top;
  }
}

/** Earlier due first; equal due times keep scheduling order. */
function before(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** The process-wide queue that drives every retry and reconnect backoff of every client. */
export const backoffTimers = new TimerQueue();
