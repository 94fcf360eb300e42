import type { Socket } from 'node:net';
import { bodyLength, encodeFrame, encodeHead, type FrameBody } from '../protocol/frame.js';
import type { FrameType } from '../protocol/constants.js';

/** Bodies at least this large are handed to the socket as they are, not copied. */
const COPY_BELOW_BYTES = 16 * 1024;
/** A batch up to this size is concatenated into one buffer; above it, corked writev. */
const CONCAT_BELOW_BYTES = 64 * 1024;

/** How a {@link FrameWriter} reports a peer that does not read fast enough. */
export interface WriterHooks {
  /** The socket's buffer passed its high-water mark: stop reading from this peer until `'drain'`. */
  readonly onBackpressure?: () => void;
  /** The socket holds more than `maxBufferedBytes` unsent bytes: the peer stopped reading. */
  readonly onOverflow?: (bufferedBytes: number) => void;
  readonly maxBufferedBytes?: number;
}

/**
 * Coalesces the frames written to one socket during a tick into one write (spec'd by the
 * architecture: "one write per connection per tick, not one per frame"). Frames queue
 * in order; the flush is scheduled with `process.nextTick`, so everything produced by
 * the current callback and the promise continuations it resolves leaves together.
 *
 * Small batches are concatenated (one memcpy beats a writev entry per tiny frame); large
 * ones go out corked, so big bodies are not copied again.
 */
export class FrameWriter {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private scheduled = false;

  constructor(
    private readonly socket: Socket,
    private readonly hooks: WriterHooks = {},
  ) {}

  /** Queues one frame. */
  frame(type: FrameType, requestId: number, meta: Uint8Array, body: FrameBody): void {
    if (!(body instanceof Uint8Array)) {
      this.pieces(type, requestId, meta, body);
      return;
    }
    if (body.length >= COPY_BELOW_BYTES) {
      this.push(encodeHead(type, requestId, meta, body.length));
      this.push(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    } else {
      this.push(encodeFrame(type, requestId, meta, body));
    }
  }

  /**
   * A body in pieces: the small ones before the first large one are copied in with the
   * header; from there on, each piece is queued as it is (empty ones left out).
   */
  private pieces(type: FrameType, requestId: number, meta: Uint8Array, body: readonly Uint8Array[]): void {
    let first = 0;
    while (first < body.length && body[first]!.length < COPY_BELOW_BYTES) first++;
    this.push(encodeHead(type, requestId, meta, bodyLength(body), first === 0 ? [] : body.slice(0, first)));
    for (let i = first; i < body.length; i++) {
      const piece = body[i]!;
      if (piece.length > 0) this.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    }
  }

  /** Queues bytes that already hold whole frames (e.g. drained from a worker ring). */
  push(bytes: Buffer): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  /** Writes what is queued now (normally done by the scheduled tick). */
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    const bytes = this.queuedBytes;
    if (queue.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    const socket = this.socket;
    if (socket.destroyed) return;
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
    if (!accepted) {
      const max = this.hooks.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
      if (socket.writableLength > max) this.hooks.onOverflow?.(socket.writableLength);
      else this.hooks.onBackpressure?.();
    }
  }

  /** Drops what is queued (the connection is being destroyed). */
  discard(): void {
    this.queue = [];
    this.queuedBytes = 0;
  }
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}
