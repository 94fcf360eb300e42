import { LatencyHistogram, type PooledLaneStats } from '../server/server-stats.js';
import { BusyWindow } from './busy-window.js';

/** The moment's facts the counters are reported with. */
export interface LaneNow {
  readonly workers: number;
  readonly maxQueue: number;
  /** Requests taken and not yet answered. */
  readonly inflight: number;
  readonly queueDepth: number;
  /** Milliseconds the workers have spent running batches (from their rings). */
  readonly busyMs: number;
}

/** The worker lane's counters, and what `server.stats().workerLane` and pacing derive from them. */
export class LaneCounters {
  completed = 0;
  failed = 0;
  batches = 0;
  ringFallbacks = 0;
  rerun = 0;
  overrunTerminations = 0;
  workersCreated = 0;
  /** Time from reading a request to its first hand-off to a worker, in µs. */
  readonly waits = new LatencyHistogram();
  private startedAt = 0;
  /** Utilisation over about the last 10 s, from the busy time each snapshot reads. */
  private readonly recent = new BusyWindow();

  /** The pool is up: utilisation counts from now. */
  started(): void {
    this.startedAt = performance.now();
    this.recent.start(this.startedAt);
  }

  /** Requests answered so far (by a worker's record or by the lane itself). */
  get answered(): number {
    return this.completed + this.failed;
  }

  /** Mean worker time per request answered so far (0 before the first). */
  meanRunMs(busyMs: number): number {
    return this.answered === 0 ? 0 : busyMs / this.answered;
  }

  snapshot(now: LaneNow): PooledLaneStats {
    const at = performance.now();
    const elapsed = this.startedAt === 0 ? 0 : (at - this.startedAt) * now.workers;
    return {
      workers: now.workers,
      inflight: now.inflight,
      queueDepth: now.queueDepth,
      maxQueue: now.maxQueue,
      utilization: elapsed > 0 ? Math.min(1, now.busyMs / elapsed) : 0,
      recentUtilization: this.recent.read(at, now.busyMs, now.workers),
      completed: this.completed,
      failed: this.failed,
      batches: this.batches,
      ringFallbacks: this.ringFallbacks,
      workerRestarts: Math.max(0, this.workersCreated - now.workers),
      rerun: this.rerun,
      workersTerminatedForOverrun: this.overrunTerminations,
      wait: this.waits.snapshot(),
      runMeanUs: Math.round(this.meanRunMs(now.busyMs) * 1000),
    };
  }
}
