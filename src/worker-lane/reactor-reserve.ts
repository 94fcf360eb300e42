import { availableParallelism } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** How often the reactor's utilisation is sampled, in ms. */
export const RESERVE_SAMPLE_MS = 20;
/** This many samples in a row in which the reactor was busy at least {@link RESERVE_ABOVE} of the time reserve it a core... */
export const RESERVE_AFTER_SAMPLES = 2;
export const RESERVE_ABOVE = 0.5;
/** ...and this many samples in a row busy under {@link RELEASE_BELOW} give the core back. */
export const RELEASE_AFTER_SAMPLES = 5;
export const RELEASE_BELOW = 0.25;
/** Samples in a row with nothing in flight on the lane after which sampling pauses (until {@link ReactorReserve.wake}). */
const IDLE_SAMPLES = 50;

/**
 * - `shared`: every worker may run batches; the reactor competes for a core with them
 *   (at a lower priority, `workerNice`).
 * - `reserved`: the reactor is busy (inline calls, gRPC, many connections), so the lane
 *   runs batches on at most one worker fewer than the cores, leaving the reactor a core.
 * - `off`: never reserved (`reserveReactorCore: false`, one core, or fewer workers than
 *   cores: the reactor has a core already), or the lane closed.
 */
export type ReserveState = 'shared' | 'reserved' | 'off';

/** The reserve as `server.stats().workerLane.reactorReserve` reports it. */
export interface ReactorReserveStats {
  readonly state: ReserveState;
  /** Workers that may run batches now. */
  readonly activeWorkers: number;
  /** The reactor's busy share over the last sample (0..1; 0 when `off`: it is not sampled). */
  readonly reactorUtilization: number;
  /** Times the lane went from `shared` to `reserved`. */
  readonly reservations: number;
  /** Milliseconds spent `reserved` in all. */
  readonly reservedMs: number;
}

/**
 * Keeps a core for the reactor while it is busy. When the worker lane has as many threads
 * as cores and they are all saturated, a lower CPU priority alone does not keep the
 * reactor responsive: every inline call and every answer needs the reactor to wake and
 * preempt a worker, and the worker's cache footprint slows what it then runs. Measured on
 * 2 cores (bench/isolation.ts; Echo inline at concurrency 8 against Work saturating the
 * lane), one worker instead of two served 25% more Echo calls and even 24% more Work under
 * both loads, but halved Work when Echo was idle. So the lane switches: all workers while the reactor is mostly idle, one fewer than the
 * cores while it is busy, judged from its event-loop utilisation (the share of wall time
 * it spent running rather than waiting for I/O) every {@link RESERVE_SAMPLE_MS}.
 *
 * The thresholds have a gap ({@link RESERVE_ABOVE}, {@link RELEASE_BELOW}), and each way
 * takes samples in a row ({@link RESERVE_AFTER_SAMPLES}, {@link RELEASE_AFTER_SAMPLES}), so
 * a load near a threshold or in bursts does not flap, and a pause of the reactor's own
 * (a garbage collection, compiling at start) reserves nothing. Measured on 2 cores: a
 * reactor relaying the answers of a lane saturated with Work is busy 7–12% of the time,
 * far below the threshold; one relaying 1.3 million stream replies a second from two
 * workers, about half the time, so it may reserve, which leaves the streams already
 * running where they are (they outlive their batch) and limits only new batches.
 */
export class ReactorReserve {
  private state: ReserveState;
  private readonly reservedLimit: number;
  private timer: NodeJS.Timeout | undefined;
  private last: EventLoopUtilization | undefined;
  private utilization = 0;
  /** Samples in a row past the threshold of the state's way out. */
  private samplesPast = 0;
  private reservations = 0;
  private reservedMs = 0;
  private reservedSince = 0;
  private idleSamples = 0;

  /**
   * @param workers the lane's threads
   * @param enabled `reserveReactorCore`
   * @param recheck called when every worker may run again, and after each sample while
   *   reserved (a batch may have turned slow, which frees a worker): the lane sends what waits
   * @param laneBusy whether the lane has calls in flight (sampling pauses while it has none)
   * @param cores the machine's cores (default: `availableParallelism()`)
   */
  constructor(
    private readonly workers: number,
    enabled: boolean,
    private readonly recheck: () => void,
    private readonly laneBusy: () => boolean = () => true,
    cores: number = availableParallelism(),
  ) {
    this.reservedLimit = Math.max(1, cores - 1);
    // One core: nothing to keep, the reactor and the one worker it could run share it anyway.
    this.state = enabled && cores >= 2 && workers > this.reservedLimit ? 'shared' : 'off';
  }

  /** Workers that may run batches now. */
  get activeWorkers(): number {
    return this.state === 'reserved' ? this.reservedLimit : this.workers;
  }

  /** The lane started: sampling runs from now on (a no-op when off). */
  start(): void {
    this.wake();
  }

  /**
   * The lane took a call: samples the reactor if it does not already. An idle lane stops
   * sampling after {@link IDLE_SAMPLES} samples, so an idle server does not wake 50 times a
   * second for a decision nothing needs.
   */
  wake(): void {
    if (this.state === 'off' || this.timer !== undefined) return;
    this.idleSamples = 0;
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), RESERVE_SAMPLE_MS);
    this.timer.unref();
  }

  /** The lane closed: no more sampling, for good; a reserve ends here (its time counted, the lane not told). */
  stop(): void {
    this.pause();
    if (this.state === 'reserved') this.reservedMs += performance.now() - this.reservedSince;
    this.state = 'off';
  }

  private pause(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.utilization = 0; // not sampled from here on: no stale figure in the stats
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    this.observe(performance.eventLoopUtilization(now, this.last).utilization, performance.now());
    this.last = now;
    if (this.state === 'reserved') this.recheck();
    this.idleSamples = this.laneBusy() ? 0 : this.idleSamples + 1;
    if (this.idleSamples < IDLE_SAMPLES) return;
    // Unsampled, a reserve would outlive what justified it: the next call starts from shared.
    this.pause();
    if (this.state === 'reserved') this.release(performance.now());
  }

  /** One sample: the reactor was busy `utilization` of the time since the last (at `now`, ms). */
  observe(utilization: number, now: number): void {
    this.utilization = utilization;
    if (this.state === 'shared') {
      this.samplesPast = utilization >= RESERVE_ABOVE ? this.samplesPast + 1 : 0;
      if (this.samplesPast < RESERVE_AFTER_SAMPLES) return;
      this.state = 'reserved';
      this.reservations++;
      this.reservedSince = now;
      this.samplesPast = 0;
      return;
    }
    if (this.state !== 'reserved') return;
    this.samplesPast = utilization < RELEASE_BELOW ? this.samplesPast + 1 : 0;
    if (this.samplesPast < RELEASE_AFTER_SAMPLES) return;
    this.release(now);
  }

  private release(now: number): void {
    this.state = 'shared';
    this.samplesPast = 0;
    this.reservedMs += now - this.reservedSince;
    this.recheck();
  }

  stats(now: number = performance.now()): ReactorReserveStats {
    const current = this.state === 'reserved' ? now - this.reservedSince : 0;
    return {
      state: this.state,
      activeWorkers: this.activeWorkers,
      reactorUtilization: this.utilization,
      reservations: this.reservations,
      reservedMs: Math.round(this.reservedMs + current),
    };
  }
}
