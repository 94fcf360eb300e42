const BUCKETS = 10;
const BUCKET_MS = 1000;

/**
 * Limits retries to a share of calls over a sliding window of 10 s (ten 1 s buckets):
 * a retry is allowed while `retries < minPerSecond × 10 + ratio × calls`. When a server
 * fails every call, clients then add at most `ratio` extra load instead of multiplying it
 * by `maxAttempts`.
 */
export class RetryBudget {
  private readonly calls = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  /** The current second (epoch ms ÷ 1000); 0 until the first call or retry. */
  private epoch = 0;

  /**
   * Times are the caller's `Date.now()`, passed in: a call reads the clock once, for its
   * deadline and its count here, and tests drive the window without a clock.
   */
  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
  ) {}

  /** Counts a call made (its first attempt) at `now` (epoch ms). */
  recordCall(now: number): void {
    this.calls[this.roll(now)]!++;
  }

  /** Takes a retry from the budget at `now` (epoch ms); false when the budget is spent. */
  tryRetry(now: number): boolean {
    const bucket = this.roll(now);
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.calls[i]!;
      retries += this.retries[i]!;
    }
    if (retries + 1 > this.minPerSecond * BUCKETS + this.ratio * calls) return false;
    this.retries[bucket]!++;
    return true;
  }

  /** The current bucket, after clearing those the window has moved past. */
  private roll(now: number): number {
    // Within the current second (every call but one a second, under load): nothing to clear.
    const start = this.epoch * BUCKET_MS;
    if (now >= start && now < start + BUCKET_MS) return this.epoch % BUCKETS;
    const epoch = Math.floor(now / BUCKET_MS);
    const passed = Math.min(BUCKETS, epoch - this.epoch);
    for (let i = 1; i <= passed; i++) {
      const b = (this.epoch + i) % BUCKETS;
      this.calls[b] = 0;
      this.retries[b] = 0;
    }
    if (passed > 0) this.epoch = epoch;
    return epoch % BUCKETS;
  }
}
