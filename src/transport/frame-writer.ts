import type { Socket } from 'node:net';
import { bodyLength, encodeHead, writeHeader, type FrameBody } from '../protocol/frame.js';
import { HEADER_BYTES, type FrameType } from '../protocol/constants.js';

/** Bodies at least this large are handed to the socket as they are, not copied; smaller ones are copied before `frame()` returns. */
export const COPY_BELOW_BYTES = 16 * 1024;
/** A batch up to this size is concatenated into one buffer; above it, corked writev. */
const CONCAT_BELOW_BYTES = 64 * 1024;

/** How a {@link FrameWriter} reports a peer that does not read fast enough. */
export interface WriterHooks {
  /** The socket's buffer passed its high-water mark: stop reading from this peer until `'drain'`. */
  readonly onBackpressure?: () => void;
  /** The socket holds more than `maxBufferedBytes` unsent bytes: the peer stopped reading. */
  readonly onOverflow?: (bufferedBytes: number) => void;
  readonly maxBufferedBytes?: number;
  /**
   * When the frames queued are written (default `'tick'`):
   * - `'tick'`: on `process.nextTick`, after the current callback and the promise
   *   continuations it resolves (a server answering the requests of one read);
   * - `'turn'`: once per turn of the event loop (`setImmediate`), after every I/O callback
   *   of the turn. A client whose calls are spread over several connections starts the
   *   calls answered by one connection's read on all of them: flushed per tick, each read
   *   would cost a write on every connection; flushed per turn, the reads of a turn share
   *   one write per connection.
   */
  readonly flushOn?: 'tick' | 'turn';
  /**
   * Size of a slab small frames are encoded into, in bytes, kept while the connection
   * lives: for the few connections of a client. Without it (a server's connections, most
   * of them idle), a writer encodes into a slab of {@link BUSY_SLAB_BYTES} only while its
   * batches are large (from {@link SLAB_FROM_FRAMES} small frames a flush) and drops it
   * once they are small again ({@link SLAB_QUIET_FLUSHES} flushes in a row of at most
   * {@link SLAB_UNTIL_FRAMES}); otherwise it takes a buffer per frame.
   */
  readonly slabBytes?: number;
}

/**
 * The slab of a busy connection without a slab of its own: a batch of 64 small answers
 * (Echo at concurrency 256 over 4 connections) fits in one. Measured in process (Echo,
 * bench/reactor.ts): a buffer per frame, and their concatenation at each flush, cost 3.6%
 * of a call.
 */
const BUSY_SLAB_BYTES = 16 * 1024;
/** Small frames in one flush from which a writer without a slab of its own takes one. */
const SLAB_FROM_FRAMES = 16;
/** Small frames in one flush at or below which it counts as quiet... */
const SLAB_UNTIL_FRAMES = 2;
/**
 * ...and quiet flushes in a row after which the writer drops that slab: one quiet flush
 * between bursts (single answers of slow handlers between batches of fast ones) would
 * otherwise take a fresh slab for every burst.
 */
const SLAB_QUIET_FLUSHES = 8;

/**
 * Coalesces the frames written to one socket during a tick (or a turn, see
 * {@link WriterHooks.flushOn}) into one write (spec'd by the architecture: "one write per
 * connection per tick, not one per frame"). Frames queue in order.
 *
 * With a slab ({@link WriterHooks.slabBytes}), small frames are encoded straight into it,
 * back to back, and the batch leaves as one view of it; the next batch continues in the slab after it (the socket keeps its view
 * until written, so written bytes are never touched again), and a new slab is taken only
 * when one is full: no buffer per frame, no concatenation per flush. Large bodies are
 * queued as they are, not copied; a batch that holds one goes out concatenated while
 * small, corked otherwise.
 *
 * ```
 *  slab: [ written (socket's) | batch: frame frame frame | free ............ ]
 *                             ^ batchStart               ^ used
 * ```
 */
export class FrameWriter {
  /** Earlier pieces of this batch (large bodies, frames pushed whole, closed runs of the slab). */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private slab: Buffer = EMPTY_SLAB;
  private batchStart = 0;
  private used = 0;
  private scheduled = false;
  private readonly turn: boolean;
  private slabBytes: number;
  /** The slab is kept for good (set at construction, or asked for by {@link useSlab}), not only while busy. */
  private pinned: boolean;
  /** Small frames queued since the last flush. */
  private batchFrames = 0;
  /** Quiet flushes in a row while holding a busy slab. */
  private quietFlushes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly hooks: WriterHooks = {},
  ) {
    this.turn = hooks.flushOn === 'turn';
    this.slabBytes = hooks.slabBytes ?? 0;
    this.pinned = this.slabBytes !== 0;
  }

  /**
   * Encodes small frames into a slab of `bytes` from now on (see {@link WriterHooks.slabBytes}):
   * for a connection that turns out to write many small frames (a stream's replies), where
   * a buffer per frame and a concatenation per flush would cost more than the slab it keeps.
   */
  useSlab(bytes: number): void {
    if (!this.pinned) this.slabBytes = Math.max(this.slabBytes, bytes);
    this.pinned = true;
  }

  /**
   * Queues one frame. `meta` is copied before this returns (a caller may reuse its buffer);
   * only its first `metaLength` bytes are sent.
   */
  frame(type: FrameType, requestId: number, meta: Uint8Array, body: FrameBody, metaLength: number = meta.length): void {
    if (!(body instanceof Uint8Array)) {
      this.pieces(type, requestId, metaLength === meta.length ? meta : meta.subarray(0, metaLength), body);
      return;
    }
    if (body.length >= COPY_BELOW_BYTES) {
      this.closeRun();
      this.enqueue(encodeHead(type, requestId, metaLength === meta.length ? meta : meta.subarray(0, metaLength), body.length));
      this.enqueue(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
      return;
    }
    const size = HEADER_BYTES + metaLength + body.length;
    this.batchFrames++;
    if (this.slabBytes === 0) {
      const own = Buffer.allocUnsafe(size);
      writeHeader(own, 0, type, requestId, metaLength, body.length);
      copy(meta, metaLength, own, HEADER_BYTES);
      copy(body, body.length, own, HEADER_BYTES + metaLength);
      this.enqueue(own);
      return;
    }
    const out = this.room(size);
    const at = this.used;
    writeHeader(out, at, type, requestId, metaLength, body.length);
    copy(meta, metaLength, out, at + HEADER_BYTES);
    copy(body, body.length, out, at + HEADER_BYTES + metaLength);
    this.used = at + size;
    this.schedule();
  }

  /**
   * A body in pieces: the small ones before the first large one are copied in with the
   * header; from there on, each piece is queued as it is (empty ones left out).
   */
  private pieces(type: FrameType, requestId: number, meta: Uint8Array, body: readonly Uint8Array[]): void {
    let first = 0;
    while (first < body.length && body[first]!.length < COPY_BELOW_BYTES) first++;
    this.closeRun();
    this.enqueue(encodeHead(type, requestId, meta, bodyLength(body), first === 0 ? [] : body.slice(0, first)));
    for (let i = first; i < body.length; i++) {
      const piece = body[i]!;
      if (piece.length > 0) this.enqueue(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    }
  }

  /** Queues bytes that already hold whole frames (e.g. drained from a worker ring). */
  push(bytes: Buffer): void {
    this.closeRun();
    this.enqueue(bytes);
  }

  /** `size` free bytes at `used` in the slab (a new slab when the current one is full). */
  private room(size: number): Buffer {
    if (this.used + size <= this.slab.length) return this.slab;
    this.closeRun();
    this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, size));
    this.batchStart = 0;
    this.used = 0;
    return this.slab;
  }

  /** Moves the slab's part of the batch so far into the queue, so that what follows keeps its order. */
  private closeRun(): void {
    if (this.used === this.batchStart) return;
    const run = this.slab.subarray(this.batchStart, this.used);
    this.batchStart = this.used;
    this.queue.push(run);
    this.queuedBytes += run.length;
  }

  private enqueue(bytes: Buffer): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.turn) flushThisTurn(this);
    else process.nextTick(flushWriter, this);
  }

  /** Writes what is queued now (normally done by the scheduled tick or turn). */
  flush(): void {
    this.scheduled = false;
    const frames = this.batchFrames;
    this.batchFrames = 0;
    this.write();
    if (!this.pinned) this.adaptSlab(frames);
  }

  /** Takes a slab while the connection is busy, drops it once it is quiet (see {@link WriterHooks.slabBytes}). */
  private adaptSlab(frames: number): void {
    if (this.slabBytes === 0) {
      if (frames >= SLAB_FROM_FRAMES) this.slabBytes = BUSY_SLAB_BYTES;
      return;
    }
    this.quietFlushes = frames <= SLAB_UNTIL_FRAMES ? this.quietFlushes + 1 : 0;
    if (this.quietFlushes >= SLAB_QUIET_FLUSHES && this.used === this.batchStart) {
      // Everything encoded in it is written (or held by the socket, which keeps its view).
      this.quietFlushes = 0;
      this.slabBytes = 0;
      this.slab = EMPTY_SLAB;
      this.batchStart = 0;
      this.used = 0;
    }
  }

  private write(): void {
    let queue = this.queue;
    if (queue.length === 0) {
      // The common case: only frames in the slab, one view of it to write.
      if (this.used === this.batchStart) return;
      const run = this.slab.subarray(this.batchStart, this.used);
      this.batchStart = this.used;
      if (this.socket.destroyed || this.socket.writableEnded) return;
      this.written(this.socket.write(run));
      return;
    }
    this.closeRun();
    queue = this.queue;
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    const socket = this.socket;
    // Nothing after end(): a write then (a PONG to a PING read while the socket lingers)
    // would make node destroy the socket, resetting what it has not yet sent.
    if (socket.destroyed || socket.writableEnded) return;
    let accepted: boolean;
    if (queue.length === 1) {
      accepted = socket.write(queue[0]!);
    } else if (bytes < CONCAT_BELOW_BYTES) {
      accepted = socket.write(Buffer.concat(queue, bytes));
    } else {
      socket.cork();
      for (const chunk of queue) socket.write(chunk);
      socket.uncork();
      accepted = !socket.writableNeedDrain;
    }
    this.written(accepted);
  }

  private written(accepted: boolean): void {
    if (accepted) return;
    const socket = this.socket;
    const max = this.hooks.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
    if (socket.writableLength > max) this.hooks.onOverflow?.(socket.writableLength);
    else this.hooks.onBackpressure?.();
  }

  /** Writes what is queued, then ends the socket (so that frames queued this tick leave before the FIN). */
  end(): void {
    this.flush();
    this.socket.end();
  }

  /** Drops what is queued (the connection is being destroyed). */
  discard(): void {
    this.queue = [];
    this.queuedBytes = 0;
    this.batchStart = this.used;
  }
}

const EMPTY_SLAB = Buffer.alloc(0);

/** Copies `length` bytes of `from` to `out` at `at`; a loop for the few bytes of a meta, `set` beyond. */
function copy(from: Uint8Array, length: number, out: Buffer, at: number): void {
  if (length > 32) {
    out.set(length === from.length ? from : from.subarray(0, length), at);
    return;
  }
  for (let i = 0; i < length; i++) out[at + i] = from[i]!;
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}

/** Writers with frames queued for this turn, flushed together by one `setImmediate`. */
let dueThisTurn: FrameWriter[] = [];
let turnScheduled = false;

function flushThisTurn(writer: FrameWriter): void {
  dueThisTurn.push(writer);
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(flushTurn);
}

function flushTurn(): void {
  turnScheduled = false;
  const due = dueThisTurn;
  dueThisTurn = [];
  for (let i = 0; i < due.length; i++) {
    try {
      due[i]!.flush();
    } catch (err) {
      // One writer's failure must not leave the others' frames unsent.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
