import {
  allocateRing,
  RingConsumer,
  ASLEEP,
  AWAKE,
  DOORBELL,
  LINGERING,
  SLEEPING,
  SHARED_CONTROL_BYTES,
  type RecordHandler,
  type RingMemory,
} from './response-ring.js';

/**
 * The reactor's side of the worker rings: one {@link RingConsumer} per ring, the shared
 * doorbell, and the loop that drains them.
 *
 * The loop drains every ring, raises the sleeping flag, re-scans, and only then waits on
 * the doorbell (`Atomics.waitAsync`, with a timeout): a producer that published in
 * between sees the flag and rings, so no record is left behind, and a busy reactor is
 * never notified at all. While records keep arriving it drains once per loop turn
 * (`setImmediate`), so socket reads interleave; it never spins on empty rings. When
 * `lingerMs()` is positive (a backlog, or a flowing stream) it lets records gather that
 * long between drains.
 * `afterDrain` runs after every drain of the loop, so work that needs every record
 * published so far to have been handled can wait for the loop instead of forcing a drain.
 */
export class ResponseDrain {
  /** The rings' memory, for the workers' `workerData`. */
  readonly rings: RingMemory[] = [];
  /** Doorbell and sleeping flag, shared with the workers. */
  readonly sharedMemory = new SharedArrayBuffer(SHARED_CONTROL_BYTES);
  private readonly shared = new Int32Array(this.sharedMemory);
  private readonly consumers: RingConsumer[] = [];
  private phase: 'stopped' | 'draining' | 'lingering' | 'sleeping' = 'stopped';

  constructor(
    count: number,
    ringBytes: number,
    private readonly onRecord: RecordHandler,
    private readonly lingerMs: () => number,
    private readonly afterDrain: () => void = () => {},
  ) {
    for (let i = 0; i < count; i++) {
      const memory = allocateRing(ringBytes);
      this.rings.push(memory);
      this.consumers.push(new RingConsumer(memory));
    }
  }

  /** Hands every published record of every ring to `onRecord`; returns how many. */
  drainAll(): number {
    let records = 0;
    for (const consumer of this.consumers) records += consumer.drain(this.onRecord);
    return records;
  }

  /** Whether a producer was waiting for room in its ring at the end of the last drain. */
  get producerWaited(): boolean {
    return this.consumers.some((c) => c.producerWaited);
  }

  /** Milliseconds the rings' producers have spent running batches, all together. */
  busyMs(): number {
    return this.consumers.reduce((sum, c) => sum + c.busyMs, 0);
  }

  /**
   * For each ring whose producer is inside a handler, or awaits an async one past its
   * deadline: the thread and the slot (both, when both are set).
   */
  *busyProducers(): Iterable<{ readonly threadId: number; readonly slot: number }> {
    for (const consumer of this.consumers) {
      const threadId = consumer.owner;
      if (threadId === 0) continue;
      const current = consumer.current;
      if (current >= 0) yield { threadId, slot: current };
      const overdue = consumer.overdue;
      if (overdue >= 0 && overdue !== current) yield { threadId, slot: overdue };
    }
  }

  /** How long the running batch of worker `threadId` has run (ms), or undefined (none, or no ring). */
  batchAgeMs(threadId: number, now: number): number | undefined {
    for (const consumer of this.consumers) if (consumer.owner === threadId) return consumer.batchAgeMs(now);
    return undefined;
  }

  /** Workers whose running batch has run longer than `overMs` at `now` (Date.now()). */
  slowBatches(now: number, overMs: number): number {
    let slow = 0;
    for (const consumer of this.consumers) {
      if (consumer.owner === 0) continue;
      const age = consumer.batchAgeMs(now);
      if (age !== undefined && age > overMs) slow++;
    }
    return slow;
  }

  /** After a producer thread exited: deliver what it published, then free its ring. */
  reclaim(threadId: number): void {
    const consumer = this.consumers.find((c) => c.owner === threadId);
    if (consumer === undefined) return;
    consumer.drain(this.onRecord);
    consumer.release();
  }

  /**
   * Asks for a drain (and `afterDrain`) soon: wakes the loop if it sleeps; a lingering or
   * running loop drains within `lingerMs()` or this turn anyway.
   */
  wake(): void {
    if (this.phase === 'sleeping') this.ringDoorbell();
  }

  start(): void {
    if (this.phase !== 'stopped') return;
    this.phase = 'draining';
    void this.loop();
  }

  stop(): void {
    this.phase = 'stopped';
    this.ringDoorbell();
  }

  private ringDoorbell(): void {
    Atomics.add(this.shared, DOORBELL, 1);
    Atomics.notify(this.shared, DOORBELL);
  }

  private async loop(): Promise<void> {
    while (this.phase !== 'stopped') {
      // Read before draining: an urge while the loop drains or decides (it is awake then,
      // so not notified) has moved the doorbell past this, and the linger does not wait.
      const before = Atomics.load(this.shared, DOORBELL);
      const drained = this.drainAll();
      this.afterDrain();
      const linger = drained > 0 ? this.lingerMs() : 0;
      if (linger > 0) {
        // Ended early by a producer's urge (a stream about to wait on its reader) or stop().
        this.phase = 'lingering';
        Atomics.store(this.shared, SLEEPING, LINGERING);
        const wait = Atomics.waitAsync(this.shared, DOORBELL, before, linger);
        if (wait.async) await wait.value;
        Atomics.store(this.shared, SLEEPING, AWAKE);
        if (this.phase === 'lingering') this.phase = 'draining';
        continue;
      }
      const seen = Atomics.load(this.shared, DOORBELL);
      Atomics.store(this.shared, SLEEPING, ASLEEP);
      if (this.consumers.some((c) => c.pending)) {
        Atomics.store(this.shared, SLEEPING, AWAKE);
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      this.phase = 'sleeping';
      const wait = Atomics.waitAsync(this.shared, DOORBELL, seen, 1000);
      if (wait.async) await wait.value;
      Atomics.store(this.shared, SLEEPING, AWAKE);
      if (this.phase === 'sleeping') this.phase = 'draining';
    }
  }
}
