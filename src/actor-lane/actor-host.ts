import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { LatencyHistogram } from '../server/server-stats.js';
import { Fifo } from '../util/fifo.js';
import { actorId } from './actor-key.js';
import type { Actor } from '../pipeline/handler-context.js';

/** What an actor's lifecycle hooks are told besides its key. */
export interface ActorInfo {
  /** Fully qualified service of the actor's methods. */
  readonly service: string;
}

/**
 * Optional exports of a handler module with actor-lane methods:
 * - `activate(key, info)`: builds or loads the state of an actor before its first message
 *   (async allowed; its messages wait). A throw fails the waiting messages (UNAVAILABLE
 *   unless it is an `RpcError`), and the next message tries again.
 * - `deactivate(key, state, info)`: runs before an actor is passivated (idle, or the worker
 *   holds too many), e.g. to persist its state; its messages that arrive meanwhile wait and
 *   then activate it again.
 */
export interface ActorHooks {
  readonly activate?: ((key: string, info: ActorInfo) => unknown) | undefined;
  readonly deactivate?: ((key: string, state: unknown, info: ActorInfo) => unknown) | undefined;
}

/** How an actor-lane thread keeps its actors (part of its `workerData`). */
export interface ActorThreadInit {
  /** This thread's shard: the keys the reactor hashes to it. */
  readonly shard: number;
  /** An actor without messages for this long is passivated. */
  readonly idleMs: number;
  /** Past this many actors, the least recently used idle one is passivated. */
  readonly maxActors: number;
  /** The shard's counters ({@link ActorCounters}), written here, read by the reactor. */
  readonly counters: SharedArrayBuffer;
}

/**
 * A shard's counters in shared memory: gauges and totals, then the histograms of message
 * wait (arrival in the worker to the handler's start) and run (the handler's whole run).
 */
export class ActorCounters {
  static readonly BYTES = (5 + 2 * LatencyHistogram.SLOTS) * 8;
  private readonly cells: Float64Array;
  readonly wait: LatencyHistogram;
  readonly run: LatencyHistogram;

  constructor(memory: SharedArrayBuffer) {
    this.cells = new Float64Array(memory, 0, 5);
    this.wait = new LatencyHistogram(new Float64Array(memory, 5 * 8, LatencyHistogram.SLOTS));
    this.run = new LatencyHistogram(new Float64Array(memory, (5 + LatencyHistogram.SLOTS) * 8, LatencyHistogram.SLOTS));
  }

  /** Actors held by the thread now (activating, active or being passivated). */
  get active(): number {
    return this.cells[0]!;
  }
  set active(n: number) {
    this.cells[0] = n;
  }
  get activations(): number {
    return this.cells[1]!;
  }
  get passivations(): number {
    return this.cells[2]!;
  }
  get activationFailures(): number {
    return this.cells[3]!;
  }
  get deactivationFailures(): number {
    return this.cells[4]!;
  }
  /** Adds one to a total. */
  count(what: 'activations' | 'passivations' | 'activationFailures' | 'deactivationFailures'): void {
    const index = { activations: 1, passivations: 2, activationFailures: 3, deactivationFailures: 4 }[what];
    this.cells[index]!++;
  }
}

/** One message for an actor: runs the call against the actor, or fails it unrun. */
export interface ActorMessage {
  /** Runs the call; a promise while its handler is under way (it never rejects). */
  run(actor: Actor): Promise<void> | undefined;
  /** Answers the call with `error` without running it (its actor failed to activate). */
  fail(error: RpcError): void;
}

interface Delivery {
  readonly message: ActorMessage;
  readonly arrivedAt: number;
  readonly done: () => void;
}

/**
 * - `activating`: its `activate` hook runs; messages wait;
 * - `ready`: messages run, one at a time;
 * - `deactivating`: its `deactivate` hook runs; messages wait for the next activation.
 */
type ActorPhase = 'activating' | 'ready' | 'deactivating';

class ActorRecord implements Actor {
  phase: ActorPhase = 'activating';
  state: unknown = undefined;
  /** A message of this actor is running (its handler may be awaiting). */
  running = false;
  lastUsed = performance.now();
  readonly mailbox = new Fifo<Delivery>();

  constructor(
    readonly id: string,
    readonly key: string,
    readonly info: ActorInfo,
    readonly hooks: ActorHooks,
  ) {}

  /** Nothing to run, nothing running: it may be passivated. */
  get idle(): boolean {
    return this.phase === 'ready' && !this.running && this.mailbox.length === 0;
  }
}

/** Longest the host runs messages before it lets the thread's event loop turn (new batches, timers). */
const SLICE_MS = 5;

/**
 * The actors of one worker thread: virtual actors, each the state of one key, activated
 * on its first message and passivated when idle or when the thread holds too many.
 *
 * The messages of one actor run one at a time, in the order they were delivered (the
 * order the reactor read them), also when a handler awaits; actors interleave: whenever a
 * message ends, its actor goes to the back of the runnable queue, so a hot key gets one
 * turn per round and cannot starve the others of the thread.
 */
export class ActorHost {
  /** By actor id, in least recently used order (a delivery moves an actor to the end). */
  private readonly actors = new Map<string, ActorRecord>();
  /** Ready actors with a message to run and none running. */
  private readonly runnable = new Fifo<ActorRecord>();
  private pumping = false;
  private pumpScheduled = false;
  /**
   * A turn of the thread's event loop runs messages until `turnEnds`. An async handler's
   * end wakes its actor's next message in a microtask, and a chain of those would never
   * let the loop take in new batches (another key's messages): past the slice, the next
   * message waits for the loop to turn.
   */
  private inTurn = false;
  private turnEnds = 0;
  private readonly endTurn = (): void => {
    this.inTurn = false;
  };
  /** Actors being passivated: they count toward `actors.size` until their hook is done. */
  private deactivating = 0;
  private readonly sweeper: NodeJS.Timeout;
  readonly counters: ActorCounters;

  constructor(
    private readonly init: ActorThreadInit,
    /** Told the synchronous time each message took, in ms (the thread's busy time). */
    private readonly onBusy: (ms: number) => void,
  ) {
    this.counters = new ActorCounters(init.counters);
    this.counters.active = 0; // a replacement thread starts with no actors
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, Math.floor(init.idleMs / 4))));
    this.sweeper.unref();
  }

  /**
   * Delivers a message to the actor of `key`, activating it if it is not active. Resolves
   * once the message has run or failed.
   */
  deliver(key: string, info: ActorInfo, hooks: ActorHooks, message: ActorMessage): Promise<void> {
    const id = actorId(info.service, key);
    let actor = this.actors.get(id);
    if (actor === undefined) {
      actor = this.activate(id, key, info, hooks);
    } else {
      this.actors.delete(id); // to the end: most recently used
      this.actors.set(id, actor);
    }
    actor.lastUsed = performance.now();
    const target = actor;
    return new Promise((done) => {
      target.mailbox.push({ message, arrivedAt: performance.now(), done });
      if (target.phase === 'ready' && !target.running && target.mailbox.length === 1) this.makeRunnable(target);
    });
  }

  private activate(id: string, key: string, info: ActorInfo, hooks: ActorHooks): ActorRecord {
    const actor = new ActorRecord(id, key, info, hooks);
    this.actors.set(id, actor);
    this.counters.active = this.actors.size;
    this.counters.count('activations');
    let built: unknown;
    try {
      built = hooks.activate?.(key, info);
    } catch (err) {
      built = Promise.reject(err);
    }
    if (isThenable(built)) {
      built.then(
        (state) => this.activated(actor, state),
        (err: unknown) => this.activationFailed(actor, err),
      );
    } else {
      this.activated(actor, built);
    }
    this.evictOverCapacity();
    return actor;
  }

  private activated(actor: ActorRecord, state: unknown): void {
    actor.state = state ?? {};
    actor.phase = 'ready';
    if (actor.mailbox.length > 0) this.makeRunnable(actor);
  }

  /** Its waiting messages fail; the actor is gone, and its next message activates it anew. */
  private activationFailed(actor: ActorRecord, err: unknown): void {
    this.counters.count('activationFailures');
    this.forget(actor);
    const code = err instanceof RpcError ? err.code : Status.UNAVAILABLE;
    const reason = err instanceof RpcError ? err.rawMessage : err instanceof Error ? err.message : String(err);
    const error = new RpcError(code, `actor ${JSON.stringify(actor.key)} of ${actor.info.service} failed to activate: ${reason}`, {
      cause: err,
      notRun: 'refused', // no handler ran: safe to retry
    });
    for (let d = actor.mailbox.shift(); d !== undefined; d = actor.mailbox.shift()) {
      d.message.fail(error);
      d.done();
    }
  }

  private passivate(actor: ActorRecord): void {
    actor.phase = 'deactivating';
    this.deactivating++;
    const finish = (): void => {
      this.deactivating--;
      this.forget(actor);
      // Counted once it is gone, after `active` dropped: a reader that sees the count sees the drop.
      this.counters.count('passivations');
      if (actor.mailbox.length === 0) return;
      // Messages came while it deactivated: they go, in order, to its next activation.
      const next = this.activate(actor.id, actor.key, actor.info, actor.hooks);
      for (let d = actor.mailbox.shift(); d !== undefined; d = actor.mailbox.shift()) next.mailbox.push(d);
      if (next.phase === 'ready' && next.mailbox.length > 0) this.makeRunnable(next);
    };
    const failed = (): void => {
      this.counters.count('deactivationFailures');
      finish();
    };
    let persisted: unknown;
    try {
      persisted = actor.hooks.deactivate?.(actor.key, actor.state, actor.info);
    } catch {
      failed();
      return;
    }
    if (isThenable(persisted)) persisted.then(finish, failed);
    else finish();
  }

  private forget(actor: ActorRecord): void {
    if (this.actors.get(actor.id) === actor) this.actors.delete(actor.id);
    this.counters.active = this.actors.size;
  }

  /** Past `maxActors`, passivates the least recently used idle actors (busy ones are never evicted). */
  private evictOverCapacity(): void {
    let excess = this.actors.size - this.deactivating - this.init.maxActors;
    if (excess <= 0) return;
    for (const actor of this.actors.values()) {
      if (!actor.idle) continue;
      this.passivate(actor);
      if (--excess === 0) return;
    }
  }

  /**
   * Passivates every idle actor (the server is closing: their `deactivate` hooks run) and
   * resolves, with how many, once every hook is done.
   */
  async passivateAll(): Promise<number> {
    clearInterval(this.sweeper);
    const idle = [...this.actors.values()].filter((actor) => actor.idle);
    for (const actor of idle) this.passivate(actor);
    while (this.deactivating > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    return idle.length;
  }

  /** Passivates actors idle for `idleMs`. */
  private sweep(): void {
    const now = performance.now();
    for (const actor of this.actors.values()) {
      if (actor.idle && now - actor.lastUsed >= this.init.idleMs) this.passivate(actor);
    }
  }

  private makeRunnable(actor: ActorRecord): void {
    this.runnable.push(actor);
    if (this.pumping || this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Within the turn's slice, at once (a microtask); past it, once the loop has turned.
    if (this.inTurn && performance.now() >= this.turnEnds) setImmediate(this.pump);
    else queueMicrotask(this.pump);
  }

  /** Runs one message of each runnable actor in turn, for at most a slice per loop turn, then yields. */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (!this.inTurn) {
      this.inTurn = true;
      this.turnEnds = performance.now() + SLICE_MS;
      setImmediate(this.endTurn);
    }
    this.pumping = true;
    try {
      for (let actor = this.runnable.shift(); actor !== undefined; actor = this.runnable.shift()) {
        this.runOne(actor);
        if (this.runnable.length > 0 && performance.now() >= this.turnEnds) {
          this.pumpScheduled = true;
          setImmediate(this.pump);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  };

  private runOne(actor: ActorRecord): void {
    const delivery = actor.mailbox.shift()!;
    actor.running = true;
    const began = performance.now();
    this.counters.wait.record((began - delivery.arrivedAt) * 1000);
    const settled = delivery.message.run(actor);
    this.onBusy(performance.now() - began);
    if (settled === undefined) this.ended(actor, delivery, began);
    else void settled.then(() => this.ended(actor, delivery, began));
  }

  private ended(actor: ActorRecord, delivery: Delivery, began: number): void {
    const now = performance.now();
    this.counters.run.record((now - began) * 1000);
    actor.running = false;
    actor.lastUsed = now;
    delivery.done();
    if (actor.mailbox.length > 0) this.makeRunnable(actor);
    // Over capacity while every actor was busy: the first to fall idle may go now.
    else this.evictOverCapacity();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
