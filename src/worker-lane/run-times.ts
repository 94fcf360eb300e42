/**
 * When each call's handler began and its response was written, stamped by the worker or
 * actor thread that ran it and read by the reactor with the response, for the call's
 * outcome (`queuedMs`, `runMs`). Two Float64 per admission slot in a SharedArrayBuffer:
 * ```
 * [2·slot]     -1: not timed (nobody awaits the outcome); 0: timed, not begun; else when it began
 * [2·slot + 1] when its response was written (valid only once the first is > 0)
 * ```
 * The reactor sets the first word when it admits the call; the thread writes both before it
 * publishes the call's record (an Atomics store the reactor loads before it reads them), so
 * no further synchronisation is needed. Only timed calls cost the thread its two clock reads.
 *
 * Times are in the reactor's `performance.now()`: each thread's clock has its own zero, so a
 * thread shifts its readings by the distance between the two zeros on the process-wide
 * monotonic clock (`process.hrtime`, which `performance.now()` is read from).
 */

/** Words per slot. */
export const RUN_TIME_WORDS = 2;

/**
 * This thread's `performance.now()` zero on the process-wide monotonic clock, in ms. Taken
 * over a few samples, keeping the tightest pair of `hrtime` reads around a `performance.now()`
 * (the first calls of each are slow, so they are made once before).
 */
export function clockOrigin(): number {
  performance.now();
  process.hrtime.bigint();
  let best = Infinity;
  let origin = 0;
  for (let i = 0; i < 5; i++) {
    const before = process.hrtime.bigint();
    const now = performance.now();
    const after = process.hrtime.bigint();
    const spanNs = Number(after - before);
    if (spanNs < best) {
      best = spanNs;
      origin = Number(before) / 1e6 + spanNs / 2e6 - now;
    }
  }
  return origin;
}

/** The thread's side: stamps the calls it runs, on the reactor's clock. */
export class RunStamps {
  private readonly times: Float64Array;
  /** Add to this thread's `performance.now()` to get the reactor's. */
  private readonly shiftMs: number;

  /** @param reactorOrigin the reactor's {@link clockOrigin} */
  constructor(memory: SharedArrayBuffer, reactorOrigin: number) {
    this.times = new Float64Array(memory);
    this.shiftMs = clockOrigin() - reactorOrigin;
  }

  /** The handler of the call in `slot` is about to run. */
  began(slot: number): void {
    if (this.times[RUN_TIME_WORDS * slot] === 0) this.times[RUN_TIME_WORDS * slot] = performance.now() + this.shiftMs;
  }

  /** The call's response (or its no-answer record) is about to be written. */
  ended(slot: number): void {
    if (this.times[RUN_TIME_WORDS * slot]! > 0) this.times[RUN_TIME_WORDS * slot + 1] = performance.now() + this.shiftMs;
  }
}
