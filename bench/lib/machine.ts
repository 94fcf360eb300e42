import os from 'node:os';
import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** [total, idle] jiffies of the whole machine, from /proc/stat. */
export function machineJiffies(): [number, number] {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return [v.reduce((a, b) => a + b, 0), v[3]! + v[4]!];
}

/** Busy cores of the whole machine over `ms`, from /proc/stat. */
export async function busyCores(ms: number): Promise<number> {
  const [t0, i0] = machineJiffies();
  await sleep(ms);
  const [t1, i1] = machineJiffies();
  return ((t1 - t0 - (i1 - i0)) / (t1 - t0)) * os.availableParallelism();
}

/**
 * Waits until no one else uses the machine: under 0.3 busy cores over 2 s while nothing of
 * the bench runs, checked every 10 s for up to 4 minutes (`BENCH_IDLE_WAIT_S` seconds: 0 for
 * a quick look on a busy machine, whose figures then say little). The 1-minute load average is
 * recorded too, but not used: right after a round it still holds the bench's own load
 * (3 busy processes) for a minute or more.
 */
export async function waitForIdle(): Promise<{ load1: number; busy: number; waitedS: number }> {
  const started = Date.now();
  const maxWaitS = Number(process.env['BENCH_IDLE_WAIT_S'] ?? 240);
  let waited = false;
  for (;;) {
    const busy = await busyCores(2000);
    const waitedS = Math.round((Date.now() - started) / 1000);
    if (busy < 0.3 || waitedS >= maxWaitS) {
      if (busy >= 0.3) process.stderr.write(`machine still busy (${busy.toFixed(2)} cores) after ${waitedS} s: running anyway\n`);
      return { load1: os.loadavg()[0]!, busy, waitedS: waited ? waitedS : 0 };
    }
    waited = true;
    process.stderr.write(`machine busy (${busy.toFixed(2)} cores, load ${os.loadavg()[0]!.toFixed(2)}): waiting\n`);
    await sleep(10_000);
  }
}
