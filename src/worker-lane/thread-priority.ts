import { readlinkSync } from 'node:fs';
import os from 'node:os';

/**
 * Lowers the calling thread's CPU scheduling priority by `nice` steps (Linux; elsewhere,
 * or where the kernel refuses, it does nothing and returns false).
 *
 * Why: the reactor (the main thread) answers inline calls and drains every lane's
 * responses; when worker threads fill every core, an equal-priority reactor waits its
 * turn behind them and inline latency grows from microseconds to milliseconds. A niced
 * worker still takes every cycle the reactor leaves (the scheduler wastes none), but
 * yields at once when the reactor wakes. Raising a thread's nice value needs no privilege.
 *
 * `setpriority(PRIO_PROCESS, tid)` on Linux sets one thread, and the thread's id is the
 * last component of `/proc/thread-self` (Node has no gettid()).
 */
export function lowerThreadPriority(nice: number): boolean {
  if (nice <= 0 || process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isSafeInteger(tid) || tid <= 0) return false;
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + nice));
    return true;
  } catch {
    return false;
  }
}
