import { processCpuMs } from './proc.js';
import type { LoadResult } from '../../src/bench/load-generator.js';

/** What every bench client prints as its last line: `RESULT {json}`. */
export interface ClientResult extends LoadResult {
  /** Client process CPU, % of one core, over the measured window. */
  readonly clientCpu: number;
  /** Server process CPU (all threads), % of one core, over the measured window. */
  readonly serverCpu: number;
}

/**
 * Wraps a measured run: samples client and server CPU around it and prints RESULT.
 * The server's CPU is sampled from /proc at the start and end of the measured window.
 */
export async function measure(serverPid: number, warmupMs: number, run: (onMeasureStart: () => void) => Promise<LoadResult>): Promise<void> {
  let c0 = process.cpuUsage();
  let s0 = processCpuMs(serverPid);
  let t0 = performance.now();
  const result = await run(() => {
    c0 = process.cpuUsage();
    s0 = processCpuMs(serverPid);
    t0 = performance.now();
  });
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const out: ClientResult = {
    ...result,
    clientCpu: Math.round(((c.user + c.system) / 1000 / wall) * 100),
    serverCpu: Math.round(((processCpuMs(serverPid) - s0) / wall) * 100),
  };
  void warmupMs;
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}
