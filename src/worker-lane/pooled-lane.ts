import { Piscina } from 'piscina';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { CallLane, Lane } from '../server/router.js';
import type { ServerCall } from '../server/server-call.js';
import type { ResolvedServerOptions } from '../server/server-options.js';
import { channels } from '../util/diagnostics.js';
import { LaneCounters } from './lane-counters.js';
import { MIN_RING_BYTES, readRecords } from './response-ring.js';
import { encodeBatch } from './batch-codec.js';
import type { QueuedEntry } from './lane-queue.js';
import { WorkerManifest, workerEntry, type BatchResult, type WorkerInit } from './worker-init.js';
import { WorkerSlots } from './worker-slots.js';
import { ResponseDrain } from './response-drain.js';
import { WorkerControl, type WorkerThreadStats } from './worker-control.js';
import { PoolThreads } from './pool-threads.js';
import { lingerMs, type LaneLoad } from './lane-pacing.js';
import { clockOrigin } from './run-times.js';
import type { CallStream, StreamLimits, StreamSink } from '../pipeline/stream-pipeline.js';
import { LaneStreams } from './lane-streams.js';
import { RECORD_MESSAGE } from './stream-records.js';

/** Piscina's constructor options. */
export type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/** The answer to a call a lane never ran because it closed (marked not run: safe to retry elsewhere). */
export const closedBeforeRun = (): RpcError => new RpcError(Status.UNAVAILABLE, 'server closed before the call ran', { notRun: 'refused' });

/** The server options every pooled lane reads (resolved once, by the server). */
export type PooledLaneOptions = Pick<
  ResolvedServerOptions,
  'maxQueue' | 'ringBytes' | 'overrunGraceMs' | 'maxFrameBytes' | 'compressAboveBytes' | 'workerMaxHeapMb' | 'responseRing' | 'workerNice'
>;

/** A batch whose task ended: with the records that missed the ring, or the worker's death. */
interface FinishedBatch {
  readonly batch: readonly QueuedEntry[];
  readonly result: BatchResult;
  readonly error: Error | undefined;
}

/**
 * What the worker lane and the actor lane share: handler modules loaded by Piscina
 * threads, one admission slot per request (with its cancel and started flags in shared
 * memory), batches of requests as transferred buffers, whole RESPONSE frames back through
 * SharedArrayBuffer rings drained by one loop, and the same failure rules:
 *
 * - a worker that dies fails only the calls it had begun, UNAVAILABLE ("may be retried");
 *   those it held but never began are handed back ({@link rerun}) to run elsewhere;
 * - a handler stuck past its deadline + grace gets its worker terminated (the watchdog).
 *
 * A subclass decides where requests queue and which thread takes them: {@link submit},
 * {@link openPools}, {@link clearQueues}, {@link afterBatch} and {@link rerun}.
 */
export abstract class PooledLane implements CallLane {
  abstract readonly name: Lane;
  protected readonly manifest = new WorkerManifest();
  protected readonly slots: WorkerSlots<ServerCall>;
  protected readonly drain: ResponseDrain;
  protected readonly counters = new LaneCounters();
  /** Server streams in flight (lane-streams.ts). */
  protected readonly streams: LaneStreams;
  protected state: 'idle' | 'running' | 'closed' = 'idle';
  /** Batches whose task ended, settled after the drain loop's next drain. */
  private finished: FinishedBatch[] = [];
  private readonly pools: Piscina[] = [];
  private readonly threads: PoolThreads[] = [];
  private readonly control = new WorkerControl();
  private watchdog: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  /** Workers the overrun watchdog is terminating (by threadId), so each is counted once. */
  private readonly terminating = new Set<number>();
  private readonly onRecord = (slot: number, status: number, frame: Buffer): void => this.handleRecord(slot, status, frame);

  /** @param threadCount the lane's worker threads in all */
  constructor(
    protected readonly settings: PooledLaneOptions,
    protected readonly threadCount: number,
  ) {
    this.slots = new WorkerSlots(settings.maxQueue);
    this.streams = new LaneStreams(this.slots);
    // A spare ring per worker, so a replacement never waits for a dying worker's ring. The
    // rings exist with responseRing off too: their control blocks drive the watchdog,
    // placement and utilisation; only their data regions go unused.
    this.drain = new ResponseDrain(
      threadCount * 2,
      settings.responseRing ? settings.ringBytes : MIN_RING_BYTES,
      this.onRecord,
      // Under a backlog, answers gather for a moment: fewer writes, and closed-loop clients
      // answer in bursts, so their next requests make larger batches (lane-pacing.ts).
      // So do a flowing stream's replies, for the same reason.
      () => lingerMs({ ...this.load(), streamReplies: this.streams.recentReplies(this.drain.producerWaited, performance.now()) }),
      () => this.settleFinished(),
    );
  }

  /** Takes a call; answers it (exactly once, through the call) whatever happens to it. */
  abstract submit(call: ServerCall, meta: Uint8Array, body: Uint8Array): void;

  /** A server stream's state: its credit goes to the thread through shared memory (thread-stream.ts). */
  openStream(call: ServerCall, sink: StreamSink, limits: StreamLimits): CallStream {
    return this.streams.open(call, sink, limits);
  }

  /** Registers methods of a service for this lane, whose handlers live in `module`. */
  register(service: ServiceDefinition, methods: readonly MethodDefinition[], module: string): void {
    if (this.state !== 'idle')
      throw new RpcError(Status.FAILED_PRECONDITION, `cannot add ${this.name}-lane methods of ${service.name} after the server started`);
    this.manifest.add(service, methods, module);
  }

  /** Starts the pools and waits until every worker has loaded its modules. */
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
      credits: this.slots.creditMemory,
      runTimes: this.slots.runTimesMemory,
      reactorClockOrigin: clockOrigin(),
      pipeline: { maxFrameBytes: this.settings.maxFrameBytes, compressAboveBytes: this.settings.compressAboveBytes },
      actors: undefined,
      nice: this.settings.workerNice,
    };
    this.openPools(init);
    this.drain.start();
    this.watchdog = setInterval(() => this.checkOverruns(), Math.max(10, Math.min(250, Math.floor(this.settings.overrunGraceMs / 2))));
    this.watchdog.unref();
    await this.control.whenReady(this.pools, this.threadCount);
    this.counters.started();
  }

  /** The load that paces batches and draining (lane-pacing.ts); the mean run time counts after 32 answers. */
  protected load(): LaneLoad {
    const perRequestMs = this.counters.answered < 32 ? undefined : this.counters.meanRunMs(this.drain.busyMs());
    return { inflight: this.slots.inUse - this.streams.size, workers: this.threadCount, perRequestMs };
  }

  /** Per-thread details from each worker, over the comlink control plane. */
  threadStats(timeoutMs = 1000): Promise<WorkerThreadStats[]> {
    return this.control.stats(timeoutMs);
  }

  /** Stops the pools (after the server has answered or abandoned its calls). */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    if (this.state === 'running') await this.beforeClose(this.control);
    this.state = 'closed';
    if (this.watchdog) clearInterval(this.watchdog);
    this.drain.stop();
    this.drain.drainAll();
    this.settleFinished();
    this.control.close();
    this.streams.close();
    for (const entry of this.clearQueues()) this.failSlot(entry.slot, closedBeforeRun());
    // Every thread exited, not only those Piscina still lists.
    await Promise.all(this.threads.map((t) => t.destroy()));
  }

  /** The last word with the threads before they stop (the actor lane passivates its actors). */
  protected async beforeClose(_control: WorkerControl): Promise<void> {}

  /** Creates the lane's Piscina pool(s) from `init` with {@link openPool}. */
  protected abstract openPools(init: WorkerInit): void;

  /** The lane closes: empties its queues, returning what still waited (answered as not run). */
  protected abstract clearQueues(): readonly QueuedEntry[];

  /** A batch's task ended (`error`: its worker died); a running lane may send more now. */
  protected abstract afterBatch(batch: readonly QueuedEntry[], error: Error | undefined): void;

  /**
   * Requests whose worker died before taking them up, from every batch settled in one pass,
   * in the order they were read; the lane queues them again ahead of what came later.
   */
  protected abstract rerun(entries: QueuedEntry[]): void;

  /** A finished batch was settled: its records delivered, what it left unanswered answered or set to re-run. */
  protected settled(_batch: readonly QueuedEntry[], _error: Error | undefined): void {}

  /** Told whenever a slot is freed, with the call it held (the actor lane counts per key). */
  protected released(_call: ServerCall): void {}

  /**
   * A Piscina pool of `threads` workers started with `init`, followed by the lane: its
   * threads' exits free their rings, its errors are published, its control ports heard.
   */
  protected openPool(threads: number, init: WorkerInit, options: Partial<PoolOptions>): Piscina {
    const pool = new Piscina({
      filename: workerEntry(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      recordTiming: false,
      resourceLimits: this.settings.workerMaxHeapMb > 0 ? { maxOldGenerationSizeMb: this.settings.workerMaxHeapMb } : undefined,
      workerData: init,
      ...options,
    });
    const followed = new PoolThreads(pool, (threadId) => {
      // What it published is delivered, and its ring freed for a successor.
      this.control.forget(threadId);
      this.drain.reclaim(threadId);
      this.terminating.delete(threadId);
      // The streams it ran (past their batches) die with it, as its unary calls do.
      for (const { slot, error } of this.streams.orphansOf(threadId)) error === undefined ? this.freeSlot(slot) : this.failSlot(slot, error);
    });
    pool.on('error', (err: Error) => {
      followed.follow(); // the failed worker's replacement
      if (channels.serverWorkerError.hasSubscribers) channels.serverWorkerError.publish({ error: err });
    });
    pool.on('message', (message: unknown) => this.control.accept(message) || this.streams.accept(message));
    pool.on('workerCreate', () => {
      this.counters.workersCreated++;
      followed.follow();
    });
    this.pools.push(pool);
    this.threads.push(followed);
    return pool;
  }

  /** Sends a batch to `pool`: the calls are handed off, and their wait until then recorded. */
  protected runBatch(pool: Piscina, batch: QueuedEntry[]): void {
    const task = encodeBatch(batch);
    this.counters.batches++;
    const now = performance.now();
    for (const entry of batch) {
      entry.call.handOff();
      // The wait until the first hand-off: a re-run is counted once, not twice.
      if (entry.handOffs++ === 0) this.counters.waits.record((now - entry.call.startedAt) * 1000);
    }
    pool.run(Piscina.move(task)).then(
      (result: BatchResult) => this.finish({ batch, result, error: undefined }),
      (error: Error) => this.finish({ batch, result: null, error }),
    );
  }

  /** Frees a slot; returns the call it held. */
  protected freeSlot(slot: number): ServerCall | undefined {
    const call = this.slots.release(slot);
    if (call === undefined) return undefined;
    if (call.stream !== undefined) this.streams.released(slot);
    this.released(call);
    return call;
  }

  /** Answers the call in `slot` with `error` and frees the slot. */
  protected failSlot(slot: number, error: RpcError): void {
    const call = this.freeSlot(slot);
    if (call === undefined) return;
    this.counters.failed++;
    call.replyError(error);
  }

  /** Answers an entry whose deadline passed while it waited on the reactor; false when it is still to be sent (or ended already, its slot freed). */
  protected expired(entry: QueuedEntry, now: number): boolean {
    if (entry.call.state === 'done') {
      this.freeSlot(entry.slot); // cancelled while queued: never sent
      return true;
    }
    if (now < entry.deadline) return false;
    const { call } = entry;
    this.failSlot(
      entry.slot,
      new RpcError(Status.DEADLINE_EXCEEDED, `${call.service}/${call.method} not started: ${call.deadlineName} passed while it waited in the queue`),
    );
    return true;
  }

  /**
   * A batch's task ended. Its ring records are published already; they, its fallback
   * records and the settling of whatever it left unanswered wait for the drain loop's next
   * drain (woken if asleep), so under a backlog a finishing batch costs no write of its own.
   * After close (tasks rejected by the pool's destruction) they are settled at once.
   */
  private finish(done: FinishedBatch): void {
    this.finished.push(done);
    if (this.state === 'running') {
      this.drain.wake();
    } else {
      this.drain.drainAll(); // closed: the loop has stopped
      this.settleFinished();
    }
    this.afterBatch(done.batch, done.error);
  }

  /** Settles the batches that finished before the drain that just ran (ring records first). */
  private settleFinished(): void {
    if (this.finished.length === 0) return;
    const finished = this.finished;
    this.finished = [];
    const rerun: QueuedEntry[] = [];
    for (const { batch, result, error } of finished) {
      if (result !== null) {
        readRecords(result, (slot, status, frame) => {
          this.counters.ringFallbacks++;
          this.handleRecord(slot, status, frame);
        });
      }
      this.settleBatch(batch, error, rerun);
      this.settled(batch, error);
    }
    if (rerun.length === 0) return;
    this.counters.rerun += rerun.length;
    rerun.sort((a, b) => a.seq - b.seq);
    this.rerun(rerun);
  }

  /**
   * Answers what a finished batch left unanswered: a worker crash, or (a bug) a lost record.
   * After a crash, requests the worker never took up go to `rerun` or, once the lane is
   * closed, fail as not run.
   */
  private settleBatch(batch: readonly QueuedEntry[], err: Error | undefined, rerun: QueuedEntry[]): void {
    for (const entry of batch) {
      if (this.slots.get(entry.slot) !== entry.call) continue; // its record came: answered
      if (err === undefined && this.streams.runsOn(entry.slot)) continue; // a stream runs on past its batch
      if (entry.call.ended) {
        // Answered or cancelled already (callTimeoutMs, the overrun watchdog, CANCEL) while
        // its worker held it: nothing more is owed, and the slot is free now its worker is done.
        this.freeSlot(entry.slot);
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
  }

  private handleRecord(slot: number, status: number, frame: Buffer): void {
    if (status >= RECORD_MESSAGE) return this.streams.record(slot, status, frame);
    if (this.streams.pieces.any) frame = this.streams.pieces.join(slot, frame);
    const beganAt = this.slots.beganAt(slot);
    const call = this.freeSlot(slot);
    if (call === undefined) return;
    if (beganAt > 0) {
      call.threadBeganAt = beganAt;
      call.threadEndedAt = this.slots.endedAt(slot);
    }
    if (frame.length === 0) return; // cancelled: no response owed
    if (status === Status.OK) this.counters.completed++;
    else this.counters.failed++;
    // Copy out of the ring before its space is reused; the writer batches per connection.
    call.replyFrame(status, Buffer.from(frame));
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
      const worker = this.findThread(owner);
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

  private findThread(threadId: number): Piscina['threads'][number] | undefined {
    for (const pool of this.pools) {
      const worker = pool.threads.find((w) => w.threadId === threadId);
      if (worker !== undefined) return worker;
    }
    return undefined;
  }
}
