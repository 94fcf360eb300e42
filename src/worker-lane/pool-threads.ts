import type { Worker } from 'node:worker_threads';

/** What {@link PoolThreads} needs of a Piscina pool. */
export interface ThreadPool {
  /** The threads the pool lists now. */
  readonly threads: readonly Worker[];
  destroy(): Promise<void>;
}

/**
 * The lifecycle of a pool's threads, as Piscina does not fully expose it: it announces
 * only the workers that became ready, drops a worker (failed start, crash, termination)
 * before that thread has exited, and when a worker's error arrives while it is being
 * destroyed, starts a replacement after `destroy()` resolved. So every thread the pool
 * lists is followed until it exits, and {@link destroy} repeats until none is left.
 * Otherwise such threads, and their message ports, outlive the server by up to a second
 * and keep the process alive.
 */
export class PoolThreads {
  private readonly followed = new WeakSet<Worker>();
  /** Followed threads that have not exited yet, with their exit. */
  private readonly exits = new Map<Worker, Promise<void>>();

  constructor(
    private readonly pool: ThreadPool,
    /** Called once per thread when it has exited, with its id. */
    private readonly onExit: (threadId: number) => void,
  ) {}

  /** Follows the threads the pool lists now. Call it whenever it may have started one. */
  follow(): void {
    for (const worker of this.pool.threads) {
      // -1: it has exited already (its 'exit' was emitted), nothing left to wait for.
      if (worker.threadId === -1 || this.followed.has(worker)) continue;
      this.followed.add(worker);
      const threadId = worker.threadId;
      this.exits.set(
        worker,
        new Promise<void>((resolve) => {
          worker.once('exit', () => {
            this.exits.delete(worker);
            this.onExit(threadId);
            this.follow(); // Piscina starts a replacement from its own exit listener
            resolve();
          });
        }),
      );
    }
  }

  /**
   * Destroys the pool and resolves once every thread it started has exited. Each round
   * destroys what the pool lists and waits for the threads it dropped; a replacement
   * started meanwhile is listed, so the next round takes it (a few rounds at most, since
   * Piscina stops replacing workers that fail to start).
   */
  async destroy(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      this.follow();
      await this.pool.destroy();
      this.follow();
      const listed = new Set(this.pool.threads);
      await Promise.all([...this.exits].filter(([worker]) => !listed.has(worker)).map(([, exit]) => exit));
      if (this.pool.threads.length === 0 && this.exits.size === 0) return;
    }
  }
}
