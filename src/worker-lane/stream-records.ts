/**
 * The records of a stream in a response ring. A unary call's one record is a whole RESPONSE
 * frame with its status (response-ring.ts); a stream's calls write, before that final
 * record, one record per reply, whose `status` word says what it is instead:
 *
 * - {@link RECORD_MESSAGE} / {@link RECORD_MESSAGE_GZIP}: the body of one MESSAGE (plain or
 *   gzipped); the reactor frames it and writes it, and the call goes on;
 * - {@link RECORD_PIECE}: a piece of a record too large for the ring (over a quarter of
 *   it), continued by the next record of the same slot, which ends it.
 *
 * Status codes are 0–16, so the values above them cannot be mistaken for one.
 */
import type { RingProducer } from './response-ring.js';

export const RECORD_MESSAGE = 0x100;
export const RECORD_MESSAGE_GZIP = 0x101;
export const RECORD_PIECE = 0x102;

/**
 * A worker's writes of stream records into its ring, in order. Unlike a unary call's, they
 * never go to the batch's fallback buffer: a worker-lane stream outlives its batch. So a
 * full ring is waited out (the reactor drains it), and a record larger than the ring takes
 * is cut into {@link RECORD_PIECE}s.
 */
export class StreamRecordWriter {
  private tail: Promise<void> = Promise.resolve();
  /** Records queued by {@link write} and not yet in the ring. */
  private queued = 0;

  constructor(private readonly ring: RingProducer) {}

  /**
   * Writes a record into the ring now, if it can go there at once: nothing is queued before
   * it, it takes no pieces, and the ring has room. Returns false, having written nothing,
   * otherwise; the caller then {@link write}s it. A stream's steady flow takes this path:
   * no promise per reply, and `parts` may be views that the next encode reuses.
   */
  tryWrite(slot: number, status: number, parts: readonly Uint8Array[]): boolean {
    return this.queued === 0 && this.ring.write(slot, status, parts) === true; // too large for one record: 'oversized'
  }

  /**
   * Queues a record; resolves once it is in the ring (rejects only on a bug, and then only
   * for this record's writer). `parts` must stay as they are until then.
   */
  write(slot: number, status: number, parts: readonly Uint8Array[]): Promise<void> {
    this.queued++;
    const written = this.tail.then(async () => {
      try {
        await this.put(slot, status, parts);
      } finally {
        this.queued--;
      }
    });
    this.tail = written.catch(() => {}); // the records queued behind it still go
    return written;
  }

  /** Asks the reactor to drain now, lingering or not (see `RingProducer.urge`). */
  urge(): void {
    this.ring.urge();
  }

  /** Resolves once every record queued so far is in the ring. */
  flushed(): Promise<void> {
    return this.tail;
  }

  private async put(slot: number, status: number, parts: readonly Uint8Array[]): Promise<void> {
    let length = 0;
    for (const p of parts) length += p.length;
    const room = this.ring.maxRecordBytes - 16; // the record's header; maxRecordBytes is a multiple of 8
    if (length <= room) return this.place(slot, status, parts);
    const whole = Buffer.concat(parts);
    let at = 0;
    for (; whole.length - at > room; at += room) await this.place(slot, RECORD_PIECE, [whole.subarray(at, at + room)]);
    await this.place(slot, status, [whole.subarray(at)]);
  }

  private async place(slot: number, status: number, parts: readonly Uint8Array[]): Promise<void> {
    // A full ring is drained by the reactor, which wakes this writer as it does (no polling).
    for (let written = this.ring.write(slot, status, parts); written !== true; written = this.ring.write(slot, status, parts)) {
      if (written !== 'full') throw new Error(`a stream record of ${parts.reduce((n, p) => n + p.length, 0)} bytes is ${written} for its ring`); // put() cuts pieces to fit
      await this.ring.roomFreed();
    }
  }
}

/** The reactor's side: pieces of a record held, per slot, until the record that ends it. */
export class RecordPieces {
  private readonly held = new Map<number, Buffer[]>();

  /** True while any slot holds pieces (a cheap test for the unary path). */
  get any(): boolean {
    return this.held.size > 0;
  }

  /** Keeps a copy of a piece (`frame` is a view of the ring). */
  add(slot: number, frame: Buffer): void {
    const pieces = this.held.get(slot);
    if (pieces === undefined) this.held.set(slot, [Buffer.from(frame)]);
    else pieces.push(Buffer.from(frame));
  }

  /** The whole record that `frame` ends: its pieces joined with it (a copy), or `frame` itself. */
  join(slot: number, frame: Buffer): Buffer {
    const pieces = this.held.get(slot);
    if (pieces === undefined) return frame;
    this.held.delete(slot);
    pieces.push(frame);
    return Buffer.concat(pieces);
  }

  /** Drops what a slot held (its call failed before its record ended). */
  forget(slot: number): void {
    this.held.delete(slot);
  }
}
