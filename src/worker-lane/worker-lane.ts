import type { Piscina } from 'piscina';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { ServerCall } from '../server/server-call.js';
import type { ResolvedServerOptions } from '../server/server-options.js';
import type { WorkerLaneStats } from '../server/server-stats.js';
import { LaneQueue, queuedEntry, type QueuedEntry } from './lane-queue.js';
import type { WorkerInit } from './worker-init.js';
import { batchLimit, pickWorker, QUEUE_BEHIND_MAX_MS, TASKS_PER_WORKER, type LaneLoad } from './lane-pacing.js';
import { PooledLane, type PoolOptions } from './pooled-lane.js';
import type { WorkerThreadStats } from './worker-control.js';
import { ReactorReserve } from './reactor-reserve.js';

export type { WorkerThreadStats };

/** Piscina's balancer signature and its view of a worker (not exported by name). */
type LoadBalancer = NonNullable<PoolOptions['loadBalancer']>;
type PoolWorker = Parameters<LoadBalancer>[1][number];

/** The server options the worker lane reads (resolved once, by the server). */
export type WorkerLaneOptions = Pick<ResolvedServerOptions, (typeof LANE_OPTIONS)[number]>;
const LANE_OPTIONS = [
  'workers',
  'maxQueue',
  'ringBytes',
  'maxBatch',
  'overrunGraceMs',
  'maxFrameBytes',
  'compressAboveBytes',
  'workerMaxHeapMb',
  'responseRing',
  'workerAtomics',
  'workerNice',
  'reserveReactorCore',
] as const;

/**
 * The worker lane: CPU-heavy methods run on a Piscina pool while the reactor keeps
 * serving. Per request the reactor only copies meta and body into a batch; decoding,
 * decompression, the handler and encoding happen in the worker, which writes the whole
 * RESPONSE frame into its SharedArrayBuffer ring (the machinery is {@link PooledLane}'s).
 *
 * - Admission: one slot per request, `maxQueue` slots; none free → RESOURCE_EXHAUSTED at once.
 * - Batching: queued requests are packed into one transferred buffer per Piscina task,
 *   split over the tasks that may start now, so one request alone goes at once and a
 *   backlog goes as few large batches (Piscina's cost is per task, not per request).
 *   A worker holds its next batch while it runs one, unless the running one is slow;
 *   sizes, placement and draining are paced by lane-pacing.ts.
 * - Reserve: while the reactor is busy, batches run on one worker fewer than the cores,
 *   so that the reactor keeps one (reactor-reserve.ts).
 * - Failure: requests a dead worker never began go back to the head of the queue and run
 *   on another worker.
 */
export class WorkerLane extends PooledLane {
  readonly name = 'worker';
  private readonly queue: LaneQueue;
  private pool: Piscina | undefined;
  private tasksInFlight = 0;
  private flushScheduled = false;
  private seq = 0;
  private readonly reserve: ReactorReserve;

  constructor(private readonly options: WorkerLaneOptions) {
    super(options, options.workers);
    this.queue = new LaneQueue((slot) => this.freeSlot(slot));
    this.reserve = new ReactorReserve(
      options.workers,
      options.reserveReactorCore,
      () => this.flush(),
      () => this.slots.inUse > 0,
    );
  }

  override async start(): Promise<void> {
    await super.start();
    if (this.state === 'running') this.reserve.start();
  }

  /** The pooled lane's load, counting only the workers that may run batches now. */
  protected override load(): LaneLoad {
    return { ...super.load(), workers: this.reserve.activeWorkers };
  }

  override close(): Promise<void> {
    this.reserve.stop();
    return super.close();
  }

  /**
   * Takes a call for the worker lane; a full queue answers it RESOURCE_EXHAUSTED, marked
   * not run. `meta` and `body` may be views of a socket chunk: they are copied into the
   * batch by the next flush, in this tick or the next.
   */
  submit(call: ServerCall, meta: Uint8Array, body: Uint8Array): void {
    const slot = this.slots.acquire(call);
    if (slot === undefined) {
      call.replyError(new RpcError(Status.RESOURCE_EXHAUSTED, `worker queue is full (maxQueue ${this.options.maxQueue})`, { notRun: 'refused' }));
      return;
    }
    if (call.stream !== undefined) this.streams.admit(call, slot);
    this.reserve.wake();
    this.queue.push(queuedEntry(call, slot, this.seq++, this.manifest.indexOf(call.route.method), meta, body));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate: every request read in this turn of the loop joins the same batch.
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Refuses streams under `workerAtomics: 'sync'`: a stream runs on past its batch, in
   * its thread's event loop, which an idle thread blocked in `Atomics.wait` does not turn.
   */
  override register(service: ServiceDefinition, methods: readonly MethodDefinition[], module: string): void {
    const stream = methods.find((m) => m.kind !== 'unary');
    if (stream !== undefined && this.options.workerAtomics === 'sync')
      throw new RpcError(
        Status.INVALID_ARGUMENT,
        `${stream.path} cannot run on the worker lane with workerAtomics "sync": its stream would stall while the thread idles`,
      );
    super.register(service, methods, module);
  }

  /** Counters for `server.stats()`. */
  stats(): WorkerLaneStats {
    const { workers, maxQueue } = this.options;
    const counters = this.counters.snapshot({ workers, maxQueue, inflight: this.slots.inUse, queueDepth: this.queue.length, busyMs: this.drain.busyMs() });
    return { ...counters, reactorReserve: this.reserve.stats() };
  }

  protected openPools(init: WorkerInit): void {
    this.pool = this.openPool(this.options.workers, init, {
      // 'async' (the default): an idle worker keeps its event loop, so control-plane calls
      // (comlink) are answered; its per-task cost is amortised over a batch (docs/design.md).
      atomics: this.options.workerAtomics,
      stricterFIFO: true,
      // A running batch and the next one (lane-pacing.ts). pickWorker keeps the next one off
      // a worker stuck in a slow handler; if the worker dies, what it never began is re-run.
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      loadBalancer: ((_task, workers) => this.placeBatch(workers)) satisfies LoadBalancer,
    });
  }

  protected clearQueues(): readonly QueuedEntry[] {
    return this.queue.clear();
  }

  protected afterBatch(): void {
    this.tasksInFlight--;
    this.flush();
  }

  /** What a dead worker never began goes back to the head of the queue, in its order. */
  protected rerun(entries: QueuedEntry[]): void {
    this.queue.requeue(entries);
    this.flush();
  }

  /** Piscina's balancer: which worker takes the next batch, or none for now (null). */
  private placeBatch(workers: readonly PoolWorker[]): PoolWorker | null {
    const now = Date.now();
    const usable = workers.filter((w) => !w.terminating && !w.destroyed);
    const loads = usable.map((w) => ({ batches: w.currentUsage, batchAgeMs: this.drain.batchAgeMs(w.id, now) }));
    const index = pickWorker(loads, this.reserve.activeWorkers);
    return index < 0 ? null : usable[index]!;
  }

  private flush(): void {
    if (this.state !== 'running') return;
    // The workers that may run batches now, and any stuck in a slow one (pickWorker does not count those).
    const usable = Math.min(this.options.workers, this.reserve.activeWorkers + this.drain.slowBatches(Date.now(), QUEUE_BEHIND_MAX_MS));
    const maxTasks = usable * TASKS_PER_WORKER;
    const limit = batchLimit(this.load(), this.options.maxBatch);
    while (this.queue.length > 0 && this.tasksInFlight < maxTasks) {
      const free = maxTasks - this.tasksInFlight;
      const size = Math.min(limit, Math.ceil(this.queue.length / free));
      const now = Date.now();
      const batch = this.queue.take(size).filter((entry) => !this.expired(entry, now));
      if (batch.length === 0) continue;
      this.tasksInFlight++;
      this.runBatch(this.pool!, batch);
    }
  }
}
