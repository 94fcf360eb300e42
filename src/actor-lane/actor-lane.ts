import type { Piscina } from 'piscina';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ServerCall } from '../server/server-call.js';
import type { ResolvedServerOptions } from '../server/server-options.js';
import { LatencyHistogram, type ActorLaneStats } from '../server/server-stats.js';
import { LaneQueue, queuedEntry, type QueuedEntry } from '../worker-lane/lane-queue.js';
import type { WorkerInit } from '../worker-lane/worker-init.js';
import { PooledLane } from '../worker-lane/pooled-lane.js';
import type { WorkerControl } from '../worker-lane/worker-control.js';
import { ActorCounters } from './actor-host.js';
import { actorId, shardOf } from './actor-key.js';

/** The server options the actor lane reads (resolved once, by the server). */
export type ActorLaneOptions = Pick<
  ResolvedServerOptions,
  | 'actorWorkers'
  | 'actorIdleMs'
  | 'maxActorsPerWorker'
  | 'maxActorQueue'
  | 'maxQueue'
  | 'ringBytes'
  | 'maxBatch'
  | 'overrunGraceMs'
  | 'maxFrameBytes'
  | 'compressAboveBytes'
  | 'workerMaxHeapMb'
  | 'responseRing'
  | 'workerNice'
>;

/**
 * Batches a shard's thread may hold at once. A batch's task ends when all its messages have
 * run, and the messages of a busy key wait behind each other, so a thread must take new
 * batches while old ones wait: otherwise one slow key would hold back every key of its
 * shard. The bound that matters is the lane's slots (`maxQueue`).
 */
const TASKS_PER_THREAD = 1 << 16;

/** How long a close waits for the actors' `deactivate` hooks. */
const PASSIVATE_ON_CLOSE_MS = 5000;

/** One thread of the actor lane: the keys that hash to it, its pool of one, its queue. */
interface Shard {
  readonly index: number;
  readonly pool: Piscina;
  readonly queue: LaneQueue;
  /**
   * Batches that failed with their thread and are not settled yet. While any is, nothing
   * more is sent: what the dead thread never began must go first, to keep each key's order.
   */
  failed: number;
}

/**
 * The actor lane: virtual actors on worker threads. A call's key (`Meta.key`) picks one
 * thread by a stable hash, and in that thread the actor of the key runs its messages one
 * at a time, in the order the reactor read them, against state that lives in the thread
 * (actor-host.ts). Each thread is a Piscina pool of one, so a thread that dies is replaced
 * in place and its keys stay with its shard.
 *
 * - Admission: a key is required (INVALID_ARGUMENT without one); at most `maxActorQueue`
 *   messages of one key and `maxQueue` in all are taken and unanswered, beyond that
 *   RESOURCE_EXHAUSTED at once, marked not run.
 * - Failure: a thread's death fails the message it was running (UNAVAILABLE); those it held
 *   but never began go back, in their order and ahead of later ones, to its replacement,
 *   where their actors are activated again.
 */
export class ActorLane extends PooledLane {
  readonly name = 'actor';
  private readonly shards: Shard[] = [];
  private readonly memory: SharedArrayBuffer[];
  /** Each thread's counters (in `memory`), read for stats. */
  private readonly threadCounters: ActorCounters[];
  /** Messages taken and not answered, by actor id. */
  private readonly depths = new Map<string, number>();
  private flushScheduled = false;
  private seq = 0;

  constructor(private readonly options: ActorLaneOptions) {
    super(options, options.actorWorkers);
    this.memory = Array.from({ length: options.actorWorkers }, () => new SharedArrayBuffer(ActorCounters.BYTES));
    this.threadCounters = this.memory.map((m) => new ActorCounters(m));
  }

  /**
   * Takes a call for the actor of its key. `meta` and `body` may be views of a socket chunk:
   * they are copied into the batch by the next flush, in this tick or the next.
   */
  submit(call: ServerCall, meta: Uint8Array, body: Uint8Array): void {
    const key = call.meta.key;
    const site = `${call.service}/${call.method}`;
    if (key === '') {
      call.replyError(new RpcError(Status.INVALID_ARGUMENT, `${site} runs on the actor lane and needs a key: pass { key } (Meta.key)`));
      return;
    }
    const id = actorId(call.service, key);
    const depth = this.depths.get(id) ?? 0;
    if (depth >= this.options.maxActorQueue) {
      call.replyError(
        new RpcError(
          Status.RESOURCE_EXHAUSTED,
          `queue of actor ${JSON.stringify(key)} of ${call.service} is full (maxActorQueue ${this.options.maxActorQueue})`,
          {
            notRun: 'refused',
          },
        ),
      );
      return;
    }
    const slot = this.slots.acquire(call);
    if (slot === undefined) {
      call.replyError(new RpcError(Status.RESOURCE_EXHAUSTED, `actor lane is full (maxQueue ${this.options.maxQueue})`, { notRun: 'refused' }));
      return;
    }
    if (call.stream !== undefined) this.streams.admit(call, slot);
    this.depths.set(id, depth + 1);
    const entry = queuedEntry(call, slot, this.seq++, this.manifest.indexOf(call.route.method), meta, body);
    this.shards[shardOf(key, this.shards.length)]!.queue.push(entry);
    this.scheduleFlush();
  }

  /** Counters for `server.stats()`. */
  stats(): ActorLaneStats {
    const { actorWorkers: workers, maxQueue, maxActorQueue } = this.options;
    let queueDepth = 0;
    for (const shard of this.shards) queueDepth += shard.queue.length;
    const counters = this.threadCounters;
    const total = (pick: (c: ActorCounters) => number): number => counters.reduce((sum, c) => sum + pick(c), 0);
    return {
      ...this.counters.snapshot({ workers, maxQueue, inflight: this.slots.inUse, queueDepth, busyMs: this.drain.busyMs() }),
      maxActorQueue,
      activeActors: counters.map((c) => c.active),
      activations: total((c) => c.activations),
      passivations: total((c) => c.passivations),
      activationFailures: total((c) => c.activationFailures),
      deactivationFailures: total((c) => c.deactivationFailures),
      deepestKeys: this.deepestKeys(10),
      messageWait: LatencyHistogram.merged(counters.map((c) => c.wait)),
      messageRun: LatencyHistogram.merged(counters.map((c) => c.run)),
    };
  }

  protected openPools(init: WorkerInit): void {
    for (let index = 0; index < this.options.actorWorkers; index++) {
      const shardInit: WorkerInit = {
        ...init,
        actors: { shard: index, idleMs: this.options.actorIdleMs, maxActors: this.options.maxActorsPerWorker, counters: this.memory[index]! },
      };
      // 'async': the thread's event loop must run between tasks (awaiting handlers, timers, the idle sweep).
      const pool = this.openPool(1, shardInit, { atomics: 'async', concurrentTasksPerWorker: TASKS_PER_THREAD });
      this.shards.push({ index, pool, queue: new LaneQueue((slot) => this.freeSlot(slot)), failed: 0 });
    }
  }

  /**
   * A graceful close passivates every actor first, so that `deactivate` hooks (which may
   * persist state) run; a thread that does not answer within the time left is not waited for.
   */
  protected override async beforeClose(control: WorkerControl): Promise<void> {
    await control.passivateAll(PASSIVATE_ON_CLOSE_MS);
  }

  protected clearQueues(): readonly QueuedEntry[] {
    return this.shards.flatMap((shard) => shard.queue.clear());
  }

  protected afterBatch(batch: readonly QueuedEntry[], error: Error | undefined): void {
    if (error !== undefined && this.state === 'running') this.shardOf(batch[0]!).failed++;
  }

  protected override settled(batch: readonly QueuedEntry[], error: Error | undefined): void {
    if (error === undefined) return;
    const shard = this.shardOf(batch[0]!);
    shard.failed = Math.max(0, shard.failed - 1);
    this.scheduleFlush();
  }

  /** What a dead thread never began goes back to its shard, ahead of what came later, in order. */
  protected rerun(entries: QueuedEntry[]): void {
    for (const shard of this.shards) {
      const own = entries.filter((e) => this.shardOf(e) === shard);
      if (own.length > 0) shard.queue.requeue(own);
    }
    this.scheduleFlush();
  }

  protected override released(call: ServerCall): void {
    const id = actorId(call.service, call.meta.key);
    const depth = (this.depths.get(id) ?? 1) - 1;
    if (depth <= 0) this.depths.delete(id);
    else this.depths.set(id, depth);
  }

  private shardOf(entry: QueuedEntry): Shard {
    return this.shards[shardOf(entry.call.meta.key, this.shards.length)]!;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate: every request read in this turn of the loop joins its shard's batch.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.state !== 'running') return;
    const now = Date.now();
    for (const shard of this.shards) {
      if (shard.failed > 0) continue;
      while (shard.queue.length > 0) {
        const batch = shard.queue.take(this.options.maxBatch).filter((entry) => !this.expired(entry, now));
        if (batch.length > 0) this.runBatch(shard.pool, batch);
      }
    }
  }

  private deepestKeys(count: number): ActorLaneStats['deepestKeys'] {
    const deepest: Array<{ service: string; key: string; depth: number }> = [];
    for (const [id, depth] of this.depths) {
      if (deepest.length === count && depth <= deepest[count - 1]!.depth) continue;
      const cut = id.indexOf('\n');
      deepest.push({ service: id.slice(0, cut), key: id.slice(cut + 1), depth });
      deepest.sort((a, b) => b.depth - a.depth);
      if (deepest.length > count) deepest.pop();
    }
    return deepest;
  }
}
