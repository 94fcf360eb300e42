import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { PoolThreads, type ThreadPool } from '../../../src/worker-lane/pool-threads.js';

const test = suite('pool-threads');

/** A thread that lives until it is terminated. */
const idleThread = (): Worker => new Worker('setInterval(() => {}, 1000)', { eval: true });

/**
 * A pool that behaves as Piscina does at its edges: it drops a thread (terminating it)
 * without waiting for its exit, and `replaceOnDestroy` times starts a replacement while
 * it is being destroyed.
 */
class FakePool implements ThreadPool {
  threads: Worker[] = [];
  /** Every thread ever started, so a failing test still ends them all. */
  static readonly all: Worker[] = [];
  constructor(private replaceOnDestroy: number) {}
  start(): Worker {
    const w = idleThread();
    this.threads.push(w);
    FakePool.all.push(w);
    return w;
  }
  drop(w: Worker): void {
    this.threads = this.threads.filter((t) => t !== w);
    void w.terminate();
  }
  async destroy(): Promise<void> {
    const doomed = this.threads;
    this.threads = [];
    if (this.replaceOnDestroy-- > 0) this.start();
    await Promise.all(doomed.map((w) => w.terminate()));
  }
}

test.after.each(async () => {
  await Promise.all(FakePool.all.splice(0).map((w) => w.terminate()));
});

test('destroy() resolves only once every thread followed has exited, dropped and late replacements included', async () => {
  const pool = new FakePool(1);
  const exited: number[] = [];
  const threads = new PoolThreads(pool, (id) => exited.push(id));
  const a = pool.start();
  const b = pool.start();
  threads.follow();
  const ids = [a.threadId, b.threadId];
  pool.drop(a); // no longer listed, still exiting
  await threads.destroy();
  assert.is(pool.threads.length, 0, 'the replacement started mid-destroy was destroyed too');
  assert.is(exited.length, 3, 'a, b and the replacement');
  for (const id of ids) assert.ok(exited.includes(id));
  // An exited thread's port is released a turn or so after its 'exit' (seconds later on a loaded machine).
  const ports = (): number => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
  for (let waited = 0; ports() > 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  assert.is(ports(), 0, 'no thread left holding a port');
});

test('a thread is followed once, however often follow() is called', async () => {
  const pool = new FakePool(0);
  const exited: number[] = [];
  const threads = new PoolThreads(pool, (id) => exited.push(id));
  pool.start();
  threads.follow();
  threads.follow();
  await threads.destroy();
  assert.is(exited.length, 1);
});

test.run();
