/** A reading of the lane's busy time: when, and the workers' busy ms in all by then. */
interface Reading {
  readonly at: number;
  readonly busyMs: number;
}

/** A reading younger than this is too close to measure a share over: the share since start is used. */
const MIN_SPAN_MS = 1000;

/**
 * The share of the workers' time spent busy over about the last `windowMs`, without a
 * timer: each `read` (a `stats()` call: the status page every 2 s, a scrape) keeps its
 * reading, and the share is measured from the newest kept reading at least `windowMs` old,
 * else the oldest at least a second old, else the start. Read at least every `windowMs`
 * (the status page does), it covers the last 10 to 12 s; read more rarely, it covers the
 * time since the previous read; read once, the time since start.
 */
export class BusyWindow {
  /** Kept readings, oldest first; at most one per `windowMs / 50`, so at most about 50. */
  private readonly readings: Reading[] = [];
  private startedAt: number | undefined;

  /** @param windowMs how far back the share looks, in ms */
  constructor(private readonly windowMs = 10_000) {}

  /** The workers are up (`at`, in the clock `read` is given): busy time counts from here. */
  start(at: number): void {
    this.startedAt = at;
  }

  /**
   * The busy share (0..1) as of `at`, given the workers' busy ms in all by then and how
   * many workers there are now; keeps this reading for later ones.
   */
  read(at: number, busyMs: number, workers: number): number {
    if (this.startedAt === undefined) return 0;
    const edge = at - this.windowMs;
    while (this.readings.length > 1 && this.readings[1]!.at <= edge) this.readings.shift();
    const first = this.readings[0];
    const base = first !== undefined && first.at <= at - MIN_SPAN_MS ? first : { at: this.startedAt, busyMs: 0 };
    const last = this.readings[this.readings.length - 1];
    if (last === undefined || at - last.at >= this.windowMs / 50) this.readings.push({ at, busyMs });
    const elapsed = (at - base.at) * workers;
    // A replaced thread takes its busy time with it, so the sum can fall: never below 0.
    return elapsed > 0 ? Math.min(1, Math.max(0, (busyMs - base.busyMs) / elapsed)) : 0;
  }
}
