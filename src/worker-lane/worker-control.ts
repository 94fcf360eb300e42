import type { EventEmitter } from 'node:events';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/** Per-thread details reported by a worker over the control plane. */
export interface WorkerThreadStats {
  readonly threadId: number;
  readonly hasRing: boolean;
  readonly batches: number;
  readonly requests: number;
  readonly busyMs: number;
  readonly ringFallbacks: number;
  readonly heapUsedBytes: number;
}

/** What each worker exposes on its control port. */
interface WorkerControlApi {
  stats(): WorkerThreadStats;
  /** Actor-lane threads: passivates every idle actor (its `deactivate` hook runs); resolves with how many. */
  passivateAll(): Promise<number> | number;
}

/**
 * The control plane to the worker threads: typed calls (comlink) over a MessageChannel per
 * worker, separate from the data path. Each worker posts its port once it has loaded its
 * modules (a Piscina pool `'message'`); nothing is ever posted *to* a Piscina worker's
 * `parentPort`, which Piscina reserves for itself.
 */
export class WorkerControl {
  private readonly remotes = new Map<number, Comlink.Remote<WorkerControlApi>>();
  private readonly ports = new Map<number, MessagePort>();
  /** Pending {@link whenReady} waits, re-checked whenever a worker announces itself or the plane closes. */
  private readonly waiters = new Set<() => void>();
  private closed = false;

  /** Workers that have announced themselves (so are ready). */
  get ready(): number {
    return this.remotes.size;
  }

  /** Takes a pool message; true when it was a worker's control port. */
  accept(message: unknown): boolean {
    const m = message as { ringrpcControl?: MessagePort; threadId?: number } | null;
    if (m?.ringrpcControl === undefined || m.threadId === undefined) return false;
    if (this.closed) {
      // A worker that finished loading after the lane closed (shutdown or a failed start):
      // its port would otherwise stay open and keep the process alive.
      m.ringrpcControl.close();
      return true;
    }
    this.ports.set(m.threadId, m.ringrpcControl);
    this.remotes.set(m.threadId, Comlink.wrap<WorkerControlApi>(m.ringrpcControl as unknown as Comlink.Endpoint));
    for (const check of [...this.waiters]) check();
    return true;
  }

  /**
   * Resolves once `count` workers have loaded their modules (each posts its control port
   * then), or when the control plane is closed first (the lane closed while starting).
   * Rejects FAILED_PRECONDITION when a pool reports a worker's start-up error,
   * UNAVAILABLE after 30 s.
   */
  whenReady(pools: readonly EventEmitter[], count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: RpcError): void => {
        clearTimeout(timer);
        for (const pool of pools) pool.off('error', onError);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.closed || this.ready >= count) done();
      };
      const onError = (failure: Error): void =>
        done(new RpcError(Status.FAILED_PRECONDITION, `worker threads failed to start: ${failure.message}`, { cause: failure }));
      const timer = setTimeout(
        () => done(new RpcError(Status.UNAVAILABLE, `worker threads did not start within 30 s (${this.ready} of ${count} ready)`)),
        30_000,
      );
      for (const pool of pools) pool.on('error', onError);
      this.waiters.add(check);
      check();
    });
  }

  /** Drops a worker that exited. */
  forget(threadId: number): void {
    this.remotes.delete(threadId);
    this.ports.get(threadId)?.close();
    this.ports.delete(threadId);
  }

  /** Asks every worker for its stats; a worker that does not answer in `timeoutMs` is left out. */
  async stats(timeoutMs: number): Promise<WorkerThreadStats[]> {
    return (await this.askAll((remote) => remote.stats(), timeoutMs)).filter((s): s is WorkerThreadStats => s !== undefined);
  }

  /** Asks every actor-lane thread to passivate its actors; resolves with how many were, by those that answered in `timeoutMs`. */
  async passivateAll(timeoutMs: number): Promise<number> {
    return (await this.askAll((remote) => remote.passivateAll(), timeoutMs)).reduce<number>((sum, n) => sum + (n ?? 0), 0);
  }

  private askAll<T>(ask: (remote: Comlink.Remote<WorkerControlApi>) => Promise<T>, timeoutMs: number): Promise<Array<T | undefined>> {
    return Promise.all(
      [...this.remotes.values()].map((remote) =>
        Promise.race([ask(remote).catch(() => undefined), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())]),
      ),
    );
  }

  close(): void {
    this.closed = true;
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
    this.remotes.clear();
    for (const check of [...this.waiters]) check();
  }
}
