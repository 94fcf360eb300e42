import * as hdr from 'hdr-histogram-js';
import { RpcError } from '../errors.js';
import { statusName } from '../status.js';

/** How a load run is driven. */
export interface LoadOptions {
  /**
   * Closed loop: calls kept in flight, each completion starting the next. With `rate`:
   * the most calls in flight at once (calls due beyond it wait, and their wait counts).
   */
  readonly concurrency: number;
  /** Measured duration in ms (ignored when `requests` is set). */
  readonly durationMs?: number;
  /** Measured call count; the run ends when this many have completed. */
  readonly requests?: number;
  /** Calls made before measuring starts (their results are discarded), in ms. Default 0. */
  readonly warmupMs?: number;
  /**
   * Open loop: start calls at this constant rate (calls/s) whatever the latency, and
   * measure each from the time it was due, not when it could be sent, so that a stall
   * shows in the latencies instead of silently lowering the load (coordinated omission).
   */
  readonly rate?: number;
  /** Called every `progressIntervalMs` with the counts so far (for a progress bar). */
  readonly onProgress?: (progress: LoadProgress) => void;
  readonly progressIntervalMs?: number;
  /** Width of a timeline point in ms. Default: a 60th of the duration, 100 ms to 1 s. */
  readonly timelineIntervalMs?: number;
}

/** Counts while a run is in progress. */
export interface LoadProgress {
  /** Time measured so far (0 during warm-up). */
  readonly elapsedMs: number;
  readonly completed: number;
  readonly errors: number;
  /** Completions per second over the last progress interval. */
  readonly currentRps: number;
  readonly warmingUp: boolean;
}

/** Latency percentiles in µs. */
export interface LatencySummary {
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The outcome of a run (the `--json` shape of `ringrpc bench`). */
export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  /** Failed calls by status name. */
  readonly errors: Readonly<Record<string, number>>;
  readonly rps: number;
  readonly durationMs: number;
  readonly latencyUs: LatencySummary;
}

/** One interval of a run. */
export interface TimelinePoint {
  /** End of the interval, in ms from the start of measuring. */
  readonly atMs: number;
  readonly rps: number;
  readonly errors: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
}

/** One bar of the latency histogram (log-scaled: four bins per doubling). */
export interface HistogramBin {
  readonly fromUs: number;
  readonly toUs: number;
  readonly count: number;
}

/** A run with its detail: the summary, the timeline and the latency distribution. */
export interface LoadRun {
  readonly result: LoadResult;
  readonly timeline: readonly TimelinePoint[];
  readonly histogram: readonly HistogramBin[];
}

const BINS_PER_DOUBLING = 4;
/**
 * Latencies below this many µs are counted per µs in a plain array and folded into the
 * HDR histogram (and the bins) once per timeline interval: an array increment per call
 * instead of HDR's bucket arithmetic and a logarithm (4% of the bench client's time at
 * 400k calls/s). The result is the same, each value being recorded with its count.
 */
export const DIRECT_US = 16_384;

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * Runs `call` under load, closed loop (`concurrency` in flight) or open loop (`rate`),
 * and measures every call in an HDR histogram (µs, 3 significant digits), per timeline
 * interval and over the whole run. Failures are counted by status; they are part of the
 * result, never thrown.
 */
export async function runLoad(call: () => Promise<unknown>, options: LoadOptions): Promise<LoadRun> {
  const total = newHistogram();
  const interval = newHistogram();
  const bins: number[] = [];
  const errors = new Map<number, number>();
  const timeline: TimelinePoint[] = [];
  let ok = 0;
  let failed = 0;
  let intervalErrors = 0;
  let intervalCount = 0;
  const target = options.requests;
  const durationMs = options.durationMs ?? 10_000;
  const warmupMs = options.warmupMs ?? 0;
  const timelineMs = options.timelineIntervalMs ?? (target === undefined ? Math.min(1000, Math.max(100, Math.round(durationMs / 60))) : 250);

  let measuring = warmupMs <= 0;
  let startedAt = performance.now();
  // The end of a timed run is a flag set by a timer: no clock read per call to check it.
  let expired = false;
  let stopTimer: NodeJS.Timeout | undefined;
  const startClock = (): void => {
    if (target === undefined) stopTimer = setTimeout(() => (expired = true), durationMs);
  };
  if (measuring) startClock();
  let issued = 0;
  const begin = (): void => {
    measuring = true;
    startedAt = performance.now();
    startClock();
  };
  const warmupTimer = measuring ? undefined : setTimeout(begin, warmupMs);

  const direct = new Float64Array(DIRECT_US);
  const addBin = (us: number, count: number): void => {
    const bin = Math.floor(Math.log2(us) * BINS_PER_DOUBLING);
    bins[bin] = (bins[bin] ?? 0) + count;
  };
  const foldDirect = (): void => {
    for (let us = 1; us < DIRECT_US; us++) {
      const count = direct[us]!;
      if (count === 0) continue;
      interval.recordValueWithCount(us, count);
      addBin(us, count);
      direct[us] = 0;
    }
  };

  const closeInterval = (): void => {
    foldDirect();
    const atMs = performance.now() - startedAt;
    const previous = timeline.length === 0 ? 0 : timeline[timeline.length - 1]!.atMs;
    const span = atMs - previous;
    const has = intervalCount > 0;
    timeline.push({
      atMs: Math.round(atMs),
      rps: span > 0 ? (intervalCount * 1000) / span : 0,
      errors: intervalErrors,
      p50Us: has ? interval.getValueAtPercentile(50) : 0,
      p90Us: has ? interval.getValueAtPercentile(90) : 0,
      p99Us: has ? interval.getValueAtPercentile(99) : 0,
    });
    total.add(interval);
    interval.reset();
    intervalCount = 0;
    intervalErrors = 0;
  };
  let timelineTimer: NodeJS.Timeout | undefined;
  const startTimeline = (): void => {
    timelineTimer = setInterval(() => {
      if (measuring) closeInterval();
    }, timelineMs);
  };
  if (measuring) startTimeline();
  else setTimeout(startTimeline, warmupMs);

  let lastProgress = { at: performance.now(), completed: 0 };
  const progressTimer = options.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const completed = ok + failed;
        const currentRps = ((completed - lastProgress.completed) * 1000) / Math.max(1, now - lastProgress.at);
        lastProgress = { at: now, completed };
        options.onProgress!({ elapsedMs: measuring ? now - startedAt : 0, completed, errors: failed, currentRps, warmingUp: !measuring });
      }, options.progressIntervalMs ?? 250)
    : undefined;

  const record = (counted: boolean, since: number, err: unknown, now = performance.now()): void => {
    if (!counted) return;
    if (err === undefined) ok++;
    else {
      failed++;
      intervalErrors++;
      const code = RpcError.from(err).code;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
    const us = Math.max(1, Math.round((now - since) * 1000));
    intervalCount++;
    // Into the interval's counts only: they go to the run's histogram at each interval's
    // end, one merge per interval instead of a second record per call.
    if (us < DIRECT_US) {
      direct[us]!++;
      return;
    }
    interval.recordValue(us);
    addBin(us, 1);
  };
  const done = (): boolean => measuring && (target !== undefined ? issued >= target : expired);

  if (options.rate === undefined) {
    const worker = async (): Promise<void> => {
      // One clock read per call: a call's end is the next one's start.
      let t0 = performance.now();
      while (!done()) {
        const counted = measuring;
        if (counted) issued++;
        let err: unknown;
        try {
          await call();
        } catch (e) {
          err = e ?? new Error('rejected');
        }
        const t1 = performance.now();
        record(counted, t0, err, t1);
        t0 = t1;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } else {
    await openLoop(
      call,
      options.rate,
      options.concurrency,
      done,
      () => {
        const counted = measuring;
        if (counted) issued++;
        return counted;
      },
      record,
    );
  }
  clearTimeout(warmupTimer);
  clearTimeout(stopTimer);
  clearInterval(progressTimer);
  clearInterval(timelineTimer);
  if (intervalCount > 0) closeInterval();

  const measuredMs = performance.now() - startedAt;
  const requests = ok + failed;
  const errorsByName: Record<string, number> = {};
  for (const [code, n] of errors) errorsByName[statusName(code)] = n;
  // A percentile is its bucket's highest equivalent value, which can pass the exact maximum.
  const pct = (p: number): number => (requests === 0 ? 0 : Math.min(total.getValueAtPercentile(p), total.maxValue));
  const result: LoadResult = {
    requests,
    ok,
    errors: errorsByName,
    rps: measuredMs > 0 ? (requests * 1000) / measuredMs : 0,
    durationMs: Math.round(measuredMs),
    latencyUs: {
      min: requests === 0 ? 0 : total.minNonZeroValue,
      mean: requests === 0 ? 0 : Math.round(total.mean),
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      p999: pct(99.9),
      max: requests === 0 ? 0 : total.maxValue,
    },
  };
  total.destroy();
  interval.destroy();
  const histogram: HistogramBin[] = [];
  for (let i = 0; i < bins.length; i++) {
    if (bins[i] === undefined) continue;
    histogram.push({ fromUs: Math.round(2 ** (i / BINS_PER_DOUBLING)), toUs: Math.round(2 ** ((i + 1) / BINS_PER_DOUBLING)), count: bins[i]! });
  }
  return { result, timeline, histogram };
}

/**
 * The open loop: a scheduler that starts every call at its due time (`start + i / rate`),
 * catching up in bursts when the event loop was late, and holds calls beyond `maxInFlight`
 * in a backlog. Latency runs from the due time.
 */
function openLoop(
  call: () => Promise<unknown>,
  rate: number,
  maxInFlight: number,
  done: () => boolean,
  count: () => boolean,
  record: (counted: boolean, since: number, err: unknown) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const gapMs = 1000 / rate;
    let next = performance.now();
    let inFlight = 0;
    let stopped = false;
    const backlog: Array<{ due: number; counted: boolean }> = [];
    const start = (due: number, counted: boolean): void => {
      inFlight++;
      const settle = (err: unknown): void => {
        record(counted, due, err);
        inFlight--;
        const waiting = backlog.shift();
        if (waiting !== undefined) start(waiting.due, waiting.counted);
        else if (stopped && inFlight === 0) resolve();
      };
      call().then(
        () => settle(undefined),
        (err: unknown) => settle(err ?? new Error('rejected')),
      );
    };
    const tick = (): void => {
      const now = performance.now();
      while (next <= now) {
        if (done()) {
          stopped = true;
          if (inFlight === 0 && backlog.length === 0) resolve();
          return;
        }
        const counted = count();
        if (inFlight < maxInFlight) start(next, counted);
        else backlog.push({ due: next, counted });
        next += gapMs;
      }
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  });
}

/** A result as an aligned text table, for terminals. */
export function formatLoadResult(title: string, r: LoadResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows: Array<[string, string]> = [
    ['requests', n(r.requests)],
    ['ok', n(r.ok)],
    ...Object.entries(r.errors).map(([name, count]): [string, string] => [`errors ${name}`, n(count)]),
    ['req/s', n(r.rps)],
    ['duration', `${n(r.durationMs)} ms`],
    ['latency min', `${n(r.latencyUs.min)} µs`],
    ['latency mean', `${n(r.latencyUs.mean)} µs`],
    ['latency p50', `${n(r.latencyUs.p50)} µs`],
    ['latency p90', `${n(r.latencyUs.p90)} µs`],
    ['latency p99', `${n(r.latencyUs.p99)} µs`],
    ['latency p99.9', `${n(r.latencyUs.p999)} µs`],
    ['latency max', `${n(r.latencyUs.max)} µs`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v.padStart(12)}`)].join('\n');
}
