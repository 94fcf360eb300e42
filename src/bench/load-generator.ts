import * as hdr from 'hdr-histogram-js';
import { RpcError } from '../errors.js';
import { statusName } from '../status.js';

/** How a load run is driven. */
export interface LoadOptions {
  /** Calls kept in flight (closed loop): each completion starts the next. */
  readonly concurrency: number;
  /** Measured duration in ms (ignored when `requests` is set). */
  readonly durationMs?: number;
  /** Measured call count; the run ends when this many have completed. */
  readonly requests?: number;
  /** Calls made before measuring starts (their results are discarded), in ms. Default 0. */
  readonly warmupMs?: number;
  /** Called every `progressIntervalMs` with the counts so far (for a progress bar). */
  readonly onProgress?: (progress: LoadProgress) => void;
  readonly progressIntervalMs?: number;
}

/** Counts while a run is in progress. */
export interface LoadProgress {
  readonly elapsedMs: number;
  readonly completed: number;
  readonly errors: number;
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

/**
 * Runs `call` in a closed loop at the given concurrency and measures each call from
 * issue to completion in an HDR histogram (µs, 3 significant digits). Failures are
 * counted by status; they are part of the result, never thrown.
 */
export async function runLoad(call: () => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const errors = new Map<number, number>();
  let ok = 0;
  let failed = 0;
  let measuring = (options.warmupMs ?? 0) <= 0;
  let startedAt = performance.now();
  let stopAt = Infinity;
  const target = options.requests;
  let issued = 0;

  if (!measuring) {
    setTimeout(() => {
      measuring = true;
      startedAt = performance.now();
      if (target === undefined) stopAt = startedAt + (options.durationMs ?? 10_000);
    }, options.warmupMs).unref();
  } else if (target === undefined) {
    stopAt = startedAt + (options.durationMs ?? 10_000);
  }

  const progressTimer = options.onProgress
    ? setInterval(() => options.onProgress!({ elapsedMs: performance.now() - startedAt, completed: ok + failed, errors: failed }), options.progressIntervalMs ?? 250)
    : undefined;

  const worker = async (): Promise<void> => {
    for (;;) {
      if (measuring && (target !== undefined ? issued >= target : performance.now() >= stopAt)) return;
      const counted = measuring;
      if (counted) issued++;
      const t0 = performance.now();
      try {
        await call();
        if (counted) ok++;
      } catch (err) {
        if (counted) {
          failed++;
          const code = err instanceof RpcError ? err.code : RpcError.from(err).code;
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
      }
      if (counted) histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  if (progressTimer) clearInterval(progressTimer);

  const durationMs = performance.now() - startedAt;
  const requests = ok + failed;
  const errorsByName: Record<string, number> = {};
  for (const [code, n] of errors) errorsByName[statusName(code)] = n;
  const pct = (p: number): number => (requests === 0 ? 0 : histogram.getValueAtPercentile(p));
  const result: LoadResult = {
    requests,
    ok,
    errors: errorsByName,
    rps: durationMs > 0 ? (requests * 1000) / durationMs : 0,
    durationMs: Math.round(durationMs),
    latencyUs: {
      min: requests === 0 ? 0 : histogram.minNonZeroValue,
      mean: requests === 0 ? 0 : Math.round(histogram.mean),
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      p999: pct(99.9),
      max: requests === 0 ? 0 : histogram.maxValue,
    },
  };
  histogram.destroy();
  return result;
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
