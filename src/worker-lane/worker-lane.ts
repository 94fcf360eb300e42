import { Piscina } from 'piscina';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { CallLane } from '../server/router.js';
import type { ServerCall } from '../server/server-call.js';
import type { ResolvedServerOptions } from '../server/server-options.js';
import type { WorkerLaneStats } from '../server/server-stats.js';
import { LaneCounters } from './lane-counters.js';
import { MIN_RING_BYTES, readRecords } from './response-ring.js';
import { channels } from '../util/diagnostics.js';
import { encodeBatch, encodedPeer } from './batch-codec.js';
import { LaneQueue, type QueuedEntry } from './lane-queue.js';
import { WorkerManifest, workerEntry, type BatchResult, type WorkerInit } from './worker-init.js';
import { WorkerSlots } from './worker-slots.js';
import { ResponseDrain } from './response-drain.js';
import { batchLimit, lingerMs, pickWorker, TASKS_PER_WORKER, type LaneLoad } from './lane-pacing.js';
import { WorkerControl, type WorkerThreadStats } from './worker-control.js';
import { PoolThreads } from './pool-threads.js';

export type { WorkerThreadStats };

/** Piscina's balancer signature and its view of a worker (not exported by name). */
type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;
type PoolWorker = Parameters<LoadBalancer>[1][number];

/** The answer to a call the lane never ran because it closed (marked not run: safe to retry elsewhere). */
const closedBeforeRun = (): RpcError => new RpcError(Status.UNAVAILABLE, 'server closed before the call ran', { notRun: 'refused' });

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
] as const;

/** A batch whose task ended: with the records that missed the ring, or the worker's death. */
interface FinishedBatch {
  readonly batch: readonly QueuedEntry[];
  readonly result: BatchResult;
  readonly error: Error | undefined;
}

/**
 * The worker lane: CPU-heavy methods run on a Piscina pool while the reactor keeps
 * serving. Per request the reactor only copies meta and body into a batch; decoding,
 * decompression, the handler and encoding happen in the worker, which writes the whole
 * RESPONSE frame into its SharedArrayBuffer ring.
 *
 * - Admission: one slot per request, `maxQueue` slots; none free → RESOURCE_EXHAUSTED at once.
 * - Batching: queued requests are packed into one transferred buffer per Piscina task,
 *   split over the tasks that may start now, so one request alone goes at once and a
 *   backlog goes as few large batches (Piscina's cost is per task, not per request).
 *   A worker holds its next batch while it runs one, unless the running one is slow;
 *   sizes, placement and draining are paced by lane-pacing.ts.
 * - Responses: drained from every ring by one loop (ResponseDrain), which also settles
 *   finished batches, so a batch's end never costs a write of its own.
 * - Failure: a worker that dies fails only the calls it had taken up, UNAVAILABLE ("may be
 *   retried"); those it held but never began go back to the head of the queue and run on
 *   another worker. A handler stuck past its deadline + grace gets its worker terminated.
 */
export class WorkerLane implements CallLane {
  readonly name = 'worker';
  private readonly manifest = new WorkerManifest();
  private readonly slots: WorkerSlots<ServerCall>;
  private readonly drain: ResponseDrain;
  private readonly queue: LaneQueue;
  /** Batches whose task ended, settled after the drain loop's next drain. */
  private finished: FinishedBatch[] = [];
  private pool: Piscina | undefined;
  private state: 'idle' | 'running' | 'closed' = 'idle';
  private tasksInFlight = 0;
  private flushScheduled = false;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly control = new WorkerControl();
  private threads: PoolThreads | undefined;
  private readonly counters = new LaneCounters();
  /** Workers the overrun watchdog is terminating (by threadId), so each is counted once. */
  private readonly terminating = new Set<number>();
  private readonly onRecord = (slot: number, status: number, frame: Buffer): void => this.handleRecord(slot, status, frame);

  constructor(private readonly settings: WorkerLaneOptions) {
    this.slots = new WorkerSlots(settings.maxQueue);
    this.queue = new LaneQueue((slot) => this.slots.release(slot));
    // A spare ring per worker, so a replacement never waits for a dying worker's ring. The
    // rings exist with responseRing off too: their control blocks drive the watchdog,
    // placement and utilisation; only their data regions go unused.
    this.drain = new ResponseDrain(
      settings.workers * 2,
      settings.responseRing ? settings.ringBytes : MIN_RING_BYTES,
      this.onRecord,
      () => lingerMs(this.load()),
      () => this.settleFinished(),
    );
  }

  /** Registers worker-lane methods of a service, whose handlers live in `module`. */
  register(service: ServiceDefinition, methods: readonly MethodDefinition[], module: string): void {
    if (this.state !== 'idle') throw new RpcError(Status.FAILED_PRECONDITION, `cannot add worker-lane methods of ${service.name} after the server started`);
    this.manifest.add(service, methods, module);
  }

  /** Starts the pool and waits until every worker has loaded its modules. */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const init: WorkerInit = {
      ...this.manifest.contents,
      rings: this.drain.rings,
      responseRing: this.settings.responseRing,
      sharedControl: this.drain.sharedMemory,
      cancelled: this.slots.memory,
      started: this.slots.startedMemory,
      pipeline: { maxFrameBytes: this.settings.maxFrameBytes, compressAboveBytes: this.settings.compressAboveBytes },
    };
    this.pool = new Piscina({
      filename: workerEntry(),
      minThreads: this.settings.workers,
      maxThreads: this.settings.workers,
      idleTimeout: Infinity,
      // 'async' (the default): an idle worker keeps its event loop, so control-plane calls
      // (comlink) are answered; its per-task cost is amortised over a batch (docs/design.md).
      atomics: this.settings.workerAtomics,
      stricterFIFO: true,
      recordTiming: false,
      // A running batch and the next one (lane-pacing.ts). pickWorker keeps the next one off
      // a worker stuck in a slow handler; if the worker dies, what it never began is re-run.
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      loadBalancer: ((_task, workers) => this.placeBatch(workers)) satisfies LoadBalancer,
      resourceLimits: this.settings.workerMaxHeapMb > 0 ? { maxOldGenerationSizeMb: this.settings.workerMaxHeapMb } : undefined,
      workerData: init,
    });
    const threads = new PoolThreads(this.pool, (threadId) => {
      // What it published is delivered, and its ring freed for a successor.
      this.control.forget(threadId);
      this.drain.reclaim(threadId);
      this.terminating.delete(threadId);
    });
    this.threads = threads;
    this.pool.on('error', (err: Error) => {
      threads.follow(); // the failed worker's replacement
      if (channels.serverWorkerError.hasSubscribers) channels.serverWorkerError.publish({ error: err });
    });
    this.pool.on('message', (message: unknown) => this.control.accept(message));
    this.pool.on('workerCreate', () => {
      this.counters.workersCreated++;
      threads.follow();
    });
    this.drain.start();
    this.watchdog = setInterval(() => this.checkOverruns(), Math.max(10, Math.min(250, Math.floor(this.settings.overrunGraceMs / 2))));
    this.watchdog.unref();
    await this.control.whenReady(this.pool, this.settings.workers);
    this.counters.started();
  }

  /**
   * Takes a call for the worker lane; a full queue answers it RESOURCE_EXHAUSTED, marked
   * not run. `meta` and `body` may be views of a socket chunk: they are copied into the
   * batch by the next flush, in this tick or the next.
   */
  submit(call: ServerCall, meta: Uint8Array, body: Uint8Array): void {
    const slot = this.slots.acquire(call);
    if (slot === undefined) {
      call.replyError(new RpcError(Status.RESOURCE_EXHAUSTED, `worker queue is full (maxQueue ${this.settings.maxQueue})`, { notRun: 'refused' }));
      return;
    }
    this.queue.push({
      call,
      slot,
      requestId: call.requestId,
      methodIndex: this.manifest.indexOf(call.route.method),
      compression: call.meta.compression,
      deadline: call.deadline,
      meta,
      body,
      peer: encodedPeer(call.peer),
      handOffs: 0,
      queued: true,
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate: every request read in this turn of the loop joins the same batch.
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Counters for `server.stats()`. */
  stats(): WorkerLaneStats {
    const { workers, maxQueue } = this.settings;
    return this.counters.snapshot({ workers, maxQueue, inflight: this.slots.inUse, queueDepth: this.queue.length, busyMs: this.drain.busyMs() });
  }

  /** Per-thread details from each worker, over the comlink control plane. */
  threadStats(timeoutMs = 1000): Promise<WorkerThreadStats[]> {
    return this.control.stats(timeoutMs);
  }

  /** Stops the pool (after the server has answered or abandoned its calls). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.watchdog) clearInterval(this.watchdog);
    this.drain.stop();
    this.drain.drainAll();
    this.settleFinished();
    this.control.close();
    for (const entry of this.queue.clear()) this.failSlot(entry.slot, closedBeforeRun());
    await this.threads?.destroy(); // every thread exited, not only those Piscina still lists
  }

  /** Piscina's balancer: which worker takes the next batch, or none for now (null). */
  private placeBatch(workers: readonly PoolWorker[]): PoolWorker | null {
    const now = Date.now();
    const usable = workers.filter((w) => !w.terminating && !w.destroyed);
    const index = pickWorker(usable.map((w) => ({ batches: w.currentUsage, batchAgeMs: this.drain.batchAgeMs(w.id, now) })));
    return index < 0 ? null : usable[index]!;
  }

  /** The load that paces batches and draining (lane-pacing.ts); the mean run time counts after 32 answers. */
  private load(): LaneLoad {
    const perRequestMs = this.counters.answered < 32 ? undefined : this.counters.meanRunMs(this.drain.busyMs());
    return { inflight: this.slots.inUse, workers: this.settings.workers, perRequestMs };
  }

  private flush(): void {
    if (this.state !== 'running') return;
    const maxTasks = this.settings.workers * TASKS_PER_WORKER;
    const limit = batchLimit(this.load(), this.settings.maxBatch);
    while (this.queue.length > 0 && this.tasksInFlight < maxTasks) {
      const free = maxTasks - this.tasksInFlight;
      const size = Math.min(limit, Math.ceil(this.queue.length / free));
      const taken = this.queue.take(size);
      const now = Date.now();
      const batch: QueuedEntry[] = [];
      for (const entry of taken) {
        if (entry.call.state === 'done') {
          this.slots.release(entry.slot); // cancelled while queued: never sent
        } else if (now >= entry.deadline) {
          this.failSlot(
            entry.slot,
            new RpcError(
              Status.DEADLINE_EXCEEDED,
              `${entry.call.service}/${entry.call.method} not started: ${entry.call.deadlineName} passed while it waited in the queue`,
            ),
          );
        } else {
          batch.push(entry);
        }
      }
      if (batch.length === 0) continue;
      this.runBatch(batch);
    }
  }

  private runBatch(batch: QueuedEntry[]): void {
    const task = encodeBatch(batch);
    this.tasksInFlight++;
    this.counters.batches++;
    const now = performance.now();
    for (const entry of batch) {
      entry.call.handOff();
      // The wait until the first hand-off: a re-run is counted once, not twice.
      if (entry.handOffs++ === 0) this.counters.waits.record((now - entry.call.startedAt) * 1000);
    }
    this.pool!.run(Piscina.move(task)).then(
      (result: BatchResult) => this.finish({ batch, result, error: undefined }),
      (error: Error) => this.finish({ batch, result: null, error }),
    );
  }

  /**
   * A batch's task ended. Its ring records are published already; they, its fallback
   * records and the settling of whatever it left unanswered wait for the drain loop's next
   * drain (woken if asleep), so under a backlog a finishing batch costs no write of its own.
   * After close (tasks rejected by the pool's destruction) they are settled at once.
   */
  private finish(done: FinishedBatch): void {
    this.tasksInFlight--;
    this.finished.push(done);
    if (this.state === 'running') {
      this.drain.wake();
      this.flush();
    } else {
      this.drain.drainAll(); // closed: the loop has stopped
      this.settleFinished();
    }
  }

  /** Settles the batches that finished before the drain that just ran (ring records first). */
  private settleFinished(): void {
    if (this.finished.length === 0) return;
    const finished = this.finished;
    this.finished = [];
    for (const { batch, result, error } of finished) {
      if (result !== null) {
        readRecords(result, (slot, status, frame) => {
          this.counters.ringFallbacks++;
          this.handleRecord(slot, status, frame);
        });
      }
      this.settleBatch(batch, error);
    }
  }

  /**
   * Answers what a finished batch left unanswered: a worker crash, or (a bug) a lost record.
   * After a crash, requests the worker never took up go back to the head of the queue (in
   * their order), or, once the lane is closed, fail as not run.
   */
  private settleBatch(batch: readonly QueuedEntry[], err: Error | undefined): void {
    const rerun: QueuedEntry[] = [];
    for (const entry of batch) {
      if (this.slots.get(entry.slot) !== entry.call) continue; // its record came: answered
      if (entry.call.ended) {
        // Answered or cancelled already (callTimeoutMs, the overrun watchdog, CANCEL) while
        // its worker held it: nothing more is owed, and the slot is free now its worker is done.
        this.slots.release(entry.slot);
        continue;
      }
      const site = `${entry.call.service}/${entry.call.method}`;
      if (err === undefined) {
        this.failSlot(entry.slot, new RpcError(Status.INTERNAL, `the worker answered nothing for ${site}`));
      } else if (this.slots.hasStarted(entry.slot)) {
        this.failSlot(
          entry.slot,
          new RpcError(Status.UNAVAILABLE, `the worker thread running ${site} died (${err.message}); the call may be retried`, { cause: err }),
        );
      } else if (this.state === 'running') {
        entry.call.requeue();
        rerun.push(entry);
      } else {
        this.failSlot(entry.slot, closedBeforeRun());
      }
    }
    if (rerun.length === 0) return;
    this.counters.rerun += rerun.length;
    this.queue.requeue(rerun);
    this.flush();
  }

  private handleRecord(slot: number, status: number, frame: Buffer): void {
    const call = this.slots.release(slot);
    if (call === undefined) return;
    if (frame.length === 0) return; // cancelled: no response owed
    if (status === Status.OK) this.counters.completed++;
    else this.counters.failed++;
    // Copy out of the ring before its space is reused; the writer batches per connection.
    call.replyFrame(status, Buffer.from(frame));
  }

  private failSlot(slot: number, error: RpcError): void {
    const call = this.slots.release(slot);
    if (call === undefined) return;
    this.counters.failed++;
    call.replyError(error);
  }

  /**
   * Terminates a worker whose handler is stuck past its deadline plus the grace period, and
   * answers that call DEADLINE_EXCEEDED. Its slot stays taken until the dead worker's batch
   * is settled: a record the worker published meanwhile must find this call, not a new one.
   */
  private checkOverruns(): void {
    const now = Date.now();
    for (const { threadId: owner, slot } of this.drain.busyProducers()) {
      if (this.terminating.has(owner)) continue;
      const call = this.slots.get(slot);
      if (call === undefined || call.deadline === Infinity) continue;
      const over = now - call.deadline;
      if (over < this.settings.overrunGraceMs) continue;
      const worker = this.pool?.threads.find((w) => w.threadId === owner);
      if (worker === undefined) continue;
      this.terminating.add(owner);
      this.counters.overrunTerminations++;
      if (!call.ended) this.counters.failed++;
      call.replyError(
        new RpcError(Status.DEADLINE_EXCEEDED, `${call.service}/${call.method} overran ${call.deadlineName} by ${over} ms; its worker thread was terminated`),
      );
      void worker.terminate();
    }
  }
}
