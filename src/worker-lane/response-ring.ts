/**
 * A single-producer, single-consumer ring of variable-length records in a
 * SharedArrayBuffer: a worker (producer) writes whole RESPONSE frames, the reactor
 * (consumer) drains them. Lock-free; no per-record wake-ups.
 *
 * ```
 * control (Int32Array, each word on its own 128-byte line, so the two sides never share one):
 *   [WRITE] bytes written, free-running u32     (producer stores, consumer loads)
 *   [READ]  bytes consumed, free-running u32    (consumer stores once per drain)
 *   [OWNER] threadId of the producer, 0 = free  (claimed with compareExchange)
 *   [CURRENT] 1 + slot of the request the producer is running, 0 = none (watchdog)
 *   [BATCH_STARTED] Date.now() | 0 when the producer began its running batch, 0 = none
 *   [OVERDUE] 1 + slot of an async call the producer awaits past its deadline, 0 = none (watchdog)
 *   [ROOM_WANTED] 1 while the producer waits for the consumer to drain a full ring
 * data: power-of-two region; records are 8-byte aligned:
 *   [u32 size][u32 slot][u32 status][u32 frameLength][frame …][pad to 8]
 *   a PAD record ([u32 size][0xFFFFFFFF]) fills the tail when a record would wrap
 * ```
 * Counters are never masked, only their offsets are (`& mask`); sizes use unsigned
 * arithmetic (`(w - r) >>> 0`), correct across the 2³² wrap as long as the region is a
 * power of two. A record is published by one `Atomics.store` of WRITE after its bytes
 * are written with plain stores (all Atomics are sequentially consistent, so a consumer
 * that loads WRITE sees the bytes before it).
 */

const LINE = 32; // Int32 words per 128-byte line
const WRITE = 0;
const READ = LINE;
const OWNER = 2 * LINE;
const CURRENT = 3 * LINE;
/** Milliseconds its producers have spent running batches (Atomics.add; for utilisation). */
const BUSY_MS = 4 * LINE;
/** When the producer began its running batch (`Date.now() | 0`, never 0), or 0 between batches. */
const BATCH_STARTED = 5 * LINE;
/** 1 + slot of an async call past its deadline that the producer still awaits (its own watch sets it). */
const OVERDUE = 6 * LINE;
/** 1 while the producer awaits a change of READ (a stream's writer facing a full ring); the consumer then notifies. */
const ROOM_WANTED = 7 * LINE;
const CONTROL_BYTES = 8 * LINE * 4;
/** Longest a producer waits for room before it looks again: a safety net, not a poll (a drain wakes it). */
const ROOM_WAIT_MS = 200;
const RECORD_HEADER = 16;
const PAD_SLOT = 0xffff_ffff;

/**
 * Shared words of all rings of a pool: the doorbell and the consumer's state, SLEEPING:
 * {@link AWAKE}, {@link ASLEEP} (any published record wakes it) or {@link LINGERING} (it
 * lets records gather on purpose: only a producer about to wait on its reader wakes it).
 */
export const DOORBELL = 0;
export const SLEEPING = LINE;
export const AWAKE = 0;
export const ASLEEP = 1;
export const LINGERING = 2;
export const SHARED_CONTROL_BYTES = 2 * LINE * 4;

/** The SharedArrayBuffers of one ring, as passed to a worker in `workerData`. */
export interface RingMemory {
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

/** The smallest data region a ring may have. */
export const MIN_RING_BYTES = 1024;

/** Allocates a ring of `dataBytes` (a power of two ≥ 1 KiB). `start` presets the counters (tests). */
export function allocateRing(dataBytes: number, start = 0): RingMemory {
  if (dataBytes < MIN_RING_BYTES || (dataBytes & (dataBytes - 1)) !== 0)
    throw new RangeError(`ring size must be a power of two of at least ${MIN_RING_BYTES} bytes (got ${dataBytes})`);
  const memory = { control: new SharedArrayBuffer(CONTROL_BYTES), data: new SharedArrayBuffer(dataBytes) };
  const control = new Int32Array(memory.control);
  control[WRITE] = start | 0;
  control[READ] = start | 0;
  return memory;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Why a write did not go into the ring; the caller sends the frame another way. */
export type RingRefusal = 'full' | 'oversized';

/** The worker's side. */
export class RingProducer {
  private readonly control: Int32Array;
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly mask: number;
  /** Largest record accepted: a quarter of the ring, so one response cannot hog it. */
  readonly maxRecordBytes: number;
  /** READ as the last write refused for 'full' saw it: room comes when it moves. */
  private readAtFull = 0;

  constructor(
    memory: RingMemory,
    /** The pool's shared control words (doorbell, sleeping). */
    private readonly shared: Int32Array,
  ) {
    this.control = new Int32Array(memory.control);
    this.bytes = Buffer.from(memory.data);
    this.view = new DataView(memory.data);
    this.mask = memory.data.byteLength - 1;
    this.maxRecordBytes = memory.data.byteLength / 4;
  }

  /** Claims this ring for `threadId`; false when another thread owns it. */
  claim(threadId: number): boolean {
    return Atomics.compareExchange(this.control, OWNER, 0, threadId) === 0;
  }

  /** Adds to the ring's busy-time counter (whole milliseconds; the caller carries the rest). */
  addBusy(ms: number): void {
    Atomics.add(this.control, BUSY_MS, ms);
  }

  /** Marks the start of a batch, for the reactor's choice of worker for the next one. */
  startBatch(): void {
    Atomics.store(this.control, BATCH_STARTED, Date.now() | 0 || 1);
  }

  /** Marks the end of a batch. */
  endBatch(): void {
    Atomics.store(this.control, BATCH_STARTED, 0);
  }

  /** Marks the request being run (1 + slot), or none (-1), for the reactor's watchdog. */
  setCurrent(slot: number): void {
    Atomics.store(this.control, CURRENT, slot + 1);
  }

  /**
   * Names an async call this worker awaits past its deadline (or none, -1). The thread is
   * not stuck, so the reactor cannot see it in `current`; past the grace period the
   * watchdog recycles the worker for it all the same.
   */
  setOverdue(slot: number): void {
    Atomics.store(this.control, OVERDUE, slot + 1);
  }

  /**
   * Writes one record whose frame is `parts` concatenated; returns true, or why not.
   * `parts` are copied with `set` (memcpy), never byte by byte.
   */
  write(slot: number, status: number, parts: readonly Uint8Array[]): true | RingRefusal {
    let frameLength = 0;
    for (const p of parts) frameLength += p.length;
    const size = align8(RECORD_HEADER + frameLength);
    if (size > this.maxRecordBytes) return 'oversized';
    const capacity = this.mask + 1;
    const w = Atomics.load(this.control, WRITE) >>> 0;
    const r = Atomics.load(this.control, READ) >>> 0;
    const free = capacity - ((w - r) >>> 0);
    let at = w & this.mask;
    const tail = capacity - at;
    const pad = tail < size ? tail : 0;
    if (free < pad + size) {
      this.readAtFull = r | 0;
      return 'full';
    }
    if (pad > 0) {
      this.view.setUint32(at, pad, true);
      this.view.setUint32(at + 4, PAD_SLOT, true);
      at = 0;
    }
    this.view.setUint32(at, size, true);
    this.view.setUint32(at + 4, slot, true);
    this.view.setUint32(at + 8, status, true);
    this.view.setUint32(at + 12, frameLength, true);
    let pos = at + RECORD_HEADER;
    for (const p of parts) {
      this.bytes.set(p, pos);
      pos += p.length;
    }
    Atomics.store(this.control, WRITE, (w + pad + size) | 0);
    this.ring();
    return true;
  }

  /**
   * Resolves once the consumer has drained since {@link write} last answered 'full': a
   * full ring is waited out without polling. Gives how: woken by the drain (`ok`), READ had
   * already moved (`not-equal`), or no drain within the safety net's time (`timed-out`). The flag is raised before READ is compared
   * (in `waitAsync`), and the consumer stores READ before it reads the flag, so a drain
   * is never missed: either it sees the flag and notifies, or the compare sees READ moved.
   */
  async roomFreed(): Promise<'ok' | 'not-equal' | 'timed-out'> {
    Atomics.store(this.control, ROOM_WANTED, 1);
    this.urge(); // a lingering consumer would otherwise leave it waiting for the linger's end
    const wait = Atomics.waitAsync(this.control, READ, this.readAtFull, ROOM_WAIT_MS);
    if (!wait.async) {
      Atomics.store(this.control, ROOM_WANTED, 0);
      return wait.value;
    }
    // A waitAsync holds no handle: this timer keeps the thread's loop alive meanwhile.
    const alive = setTimeout(() => {}, ROOM_WAIT_MS + 1000);
    const outcome = await wait.value;
    clearTimeout(alive);
    Atomics.store(this.control, ROOM_WANTED, 0);
    return outcome;
  }

  /**
   * Asks the consumer to drain now, even if it lingers: this producer is about to wait on
   * its reader (a stream whose client's credit runs low), who can only grant more once it
   * has the replies already written. The doorbell moves whatever the consumer's state, so
   * one that is just starting to linger or sleep sees it changed and does not wait.
   */
  urge(): void {
    Atomics.add(this.shared, DOORBELL, 1);
    if (Atomics.load(this.shared, SLEEPING) !== AWAKE) Atomics.notify(this.shared, DOORBELL, 1);
  }

  /** Wakes the consumer only if it is asleep; one producer wins the flag, so one notify. */
  private ring(): void {
    if (Atomics.load(this.shared, SLEEPING) === ASLEEP && Atomics.compareExchange(this.shared, SLEEPING, ASLEEP, AWAKE) === ASLEEP) {
      Atomics.add(this.shared, DOORBELL, 1);
      Atomics.notify(this.shared, DOORBELL, 1);
    }
  }
}

/** Called per drained record; `frame` is a view of the ring, valid only during the call. */
export type RecordHandler = (slot: number, status: number, frame: Buffer) => void;

/** The reactor's side of one ring. */
export class RingConsumer {
  readonly control: Int32Array;
  /** Whether the producer was waiting for room (a full ring) at the end of the last drain. */
  producerWaited = false;
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly mask: number;

  constructor(readonly memory: RingMemory) {
    this.control = new Int32Array(memory.control);
    this.bytes = Buffer.from(memory.data);
    this.view = new DataView(memory.data);
    this.mask = memory.data.byteLength - 1;
  }

  /** True when records wait. */
  get pending(): boolean {
    return Atomics.load(this.control, WRITE) !== Atomics.load(this.control, READ);
  }

  /** threadId of the producer, 0 when free. */
  get owner(): number {
    return Atomics.load(this.control, OWNER);
  }

  /** Milliseconds spent running batches by this ring's producers so far. */
  get busyMs(): number {
    return Atomics.load(this.control, BUSY_MS);
  }

  /**
   * How long the producer's running batch has run, in ms at `now` (Date.now()), or
   * undefined between batches. Wrapping 32-bit arithmetic: right for any batch under 24 days.
   */
  batchAgeMs(now: number): number | undefined {
    const started = Atomics.load(this.control, BATCH_STARTED);
    return started === 0 ? undefined : ((now | 0) - started) | 0;
  }

  /** Slot the producer is running, or -1. */
  get current(): number {
    return Atomics.load(this.control, CURRENT) - 1;
  }

  /** Slot of an async call the producer awaits past its deadline, or -1. */
  get overdue(): number {
    return Atomics.load(this.control, OVERDUE) - 1;
  }

  /**
   * Hands every published record to `onRecord`, then advances READ once. Returns the
   * number of records (PADs excluded). The handler must copy what it keeps.
   */
  drain(onRecord: RecordHandler): number {
    const w = Atomics.load(this.control, WRITE) >>> 0;
    let r = Atomics.load(this.control, READ) >>> 0;
    let count = 0;
    while (r !== w) {
      const at = r & this.mask;
      const size = this.view.getUint32(at, true);
      const slot = this.view.getUint32(at + 4, true);
      if (slot !== PAD_SLOT) {
        const status = this.view.getUint32(at + 8, true);
        const length = this.view.getUint32(at + 12, true);
        onRecord(slot, status, this.bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length));
        count++;
      }
      r = (r + size) >>> 0;
    }
    Atomics.store(this.control, READ, r | 0);
    // After the store: a producer that raised the flag before it is woken; one that raises
    // it after sees READ moved (see RingProducer.roomFreed).
    this.producerWaited = Atomics.load(this.control, ROOM_WANTED) === 1;
    if (this.producerWaited) Atomics.notify(this.control, READ);
    return count;
  }

  /** Frees the ring after its producer is gone: drained records stay consumed, owner cleared. */
  release(): void {
    Atomics.store(this.control, CURRENT, 0);
    Atomics.store(this.control, OVERDUE, 0);
    Atomics.store(this.control, ROOM_WANTED, 0); // its waiting writer died with it
    Atomics.store(this.control, OWNER, 0);
  }
}

/**
 * Encodes records of the same layout into a plain buffer: the fallback a worker returns
 * through Piscina when the ring is full or a frame is oversized.
 */
export class RecordBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  get isEmpty(): boolean {
    return this.size === 0;
  }

  add(slot: number, status: number, parts: readonly Uint8Array[]): void {
    let frameLength = 0;
    for (const p of parts) frameLength += p.length;
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    header.writeUInt32LE(align8(RECORD_HEADER + frameLength), 0);
    header.writeUInt32LE(slot, 4);
    header.writeUInt32LE(status, 8);
    header.writeUInt32LE(frameLength, 12);
    this.chunks.push(header, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    const padding = align8(RECORD_HEADER + frameLength) - RECORD_HEADER - frameLength;
    if (padding > 0) this.chunks.push(Buffer.alloc(padding));
    this.size += align8(RECORD_HEADER + frameLength);
  }

  /** One exact-size, unpooled ArrayBuffer holding every record (transferable). */
  take(): ArrayBuffer {
    const out = new Uint8Array(this.size);
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c, pos);
      pos += c.length;
    }
    this.chunks = [];
    this.size = 0;
    return out.buffer;
  }
}

/** Reads records from a {@link RecordBuffer} result. */
export function readRecords(buffer: ArrayBuffer, onRecord: RecordHandler): void {
  const view = new DataView(buffer);
  const bytes = Buffer.from(buffer);
  for (let at = 0; at < buffer.byteLength; ) {
    const size = view.getUint32(at, true);
    const slot = view.getUint32(at + 4, true);
    const status = view.getUint32(at + 8, true);
    const length = view.getUint32(at + 12, true);
    onRecord(slot, status, bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length));
    at += size;
  }
}
