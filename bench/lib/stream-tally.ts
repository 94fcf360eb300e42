import * as hdr from 'hdr-histogram-js';
import { DIRECT_US, type LoadResult } from '../../src/bench/load-generator.js';
import { wallNow } from '../servers/stream-stamp.js';

/**
 * What a stream load client counts in its measured window: messages received, and each
 * message's latency from its production on the server (its stamp) to its arrival here.
 * Reported as a {@link LoadResult} whose "requests" are messages.
 */
export class StreamTally {
  private histogram = StreamTally.histogram();
  /** Latencies under {@link DIRECT_US} µs, counted per µs and folded into the histogram when read (as the load generator does). */
  private readonly direct = new Float64Array(DIRECT_US);
  private messages = 0;
  private failures = new Map<string, number>();
  private startedAt = performance.now();

  private static histogram(): hdr.Histogram {
    return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  }

  /** One message arrived at `arrived`, produced at `stamp` (epoch ms both). */
  message(stamp: number, arrived = wallNow()): void {
    this.messages++;
    const us = Math.max(1, Math.round((arrived - stamp) * 1000));
    if (us < DIRECT_US) this.direct[us]!++;
    else this.histogram.recordValue(us);
  }

  /** A stream failed with `status` (its name). */
  failed(status: string): void {
    this.failures.set(status, (this.failures.get(status) ?? 0) + 1);
  }

  /** Starts the measured window: what came before is warm-up. */
  reset(): void {
    this.histogram = StreamTally.histogram();
    this.direct.fill(0);
    this.messages = 0;
    this.failures = new Map();
    this.startedAt = performance.now();
  }

  result(): LoadResult {
    const elapsed = performance.now() - this.startedAt;
    const h = this.histogram;
    for (let us = 1; us < DIRECT_US; us++) if (this.direct[us]! > 0) h.recordValueWithCount(us, this.direct[us]!);
    this.direct.fill(0);
    return {
      requests: this.messages,
      ok: this.messages,
      errors: Object.fromEntries(this.failures),
      rps: this.messages / (elapsed / 1000),
      durationMs: elapsed,
      latencyUs: latencySummary(h),
    };
  }
}

/** A load result's latency figures (µs) from an HDR histogram. */
export function latencySummary(h: hdr.Histogram): LoadResult['latencyUs'] {
  return {
    min: h.minNonZeroValue,
    mean: h.mean,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

/** Runs a stream load: `start()` opens the streams, then warm-up, then the measured window. */
export async function streamLoad(tally: StreamTally, warmupMs: number, durationMs: number, onStart: () => void, start: () => void): Promise<LoadResult> {
  start();
  await new Promise((r) => setTimeout(r, warmupMs));
  tally.reset();
  onStart();
  await new Promise((r) => setTimeout(r, durationMs));
  return tally.result();
}
