import { Status } from '../status.js';
import { HEADER_BYTES, MAGIC, VERSION, DEFAULT_MAX_FRAME_BYTES, FrameType } from './constants.js';
import type { Frame } from './frame.js';

/** A fault in the byte stream; the server answers GOAWAY with `status` and closes. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly status: Status,
    message: string,
  ) {
    super(message);
  }
}

const EMPTY = Buffer.alloc(0);
/** An empty meta: a plain `Uint8Array` as every other meta view is, so the Meta codec sees one shape. */
const EMPTY_META = new Uint8Array(0);

/**
 * Reassembles frames from a byte stream (spec §Frame), with no I/O of its own.
 *
 * ```
 *  chunks: [ c0 (view, may start mid-chunk) | c1 | c2 ... ]   buffered = sum of lengths
 *           ^ next unread byte
 *  or, once a straddling frame's header is in (from the read after it):
 *  assembly: [ header | meta | body ......... |             ]  exact size, `buffered` filled
 * ```
 * A frame wholly inside the first chunk is handed out as views, without copying; only a
 * frame that straddles chunks is copied, once, into an exact-size buffer. The header's
 * magic, version, type and declared length are checked as soon as its 16 bytes are in,
 * so an oversized frame is refused before any of its body is kept.
 *
 * A straddling frame is copied into its buffer as its reads arrive, not all at once when
 * its last byte does: a 16 MiB frame would otherwise cost its reader one 16 MiB copy in a
 * single callback (milliseconds during which no other connection is read), and hold its
 * reads and the copy, twice its size, at that moment. The buffer is allocated on the read
 * after the one that brought the header, so a frame its consumer refuses at the header
 * (and stops the decoder for) never gets one.
 *
 * After a fault, `push` ignores further input: the connection is going away.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The straddling frame being filled in place (`buffered` bytes of it so far), if any. */
  private assembly: Buffer | undefined;
  private failed = false;
  // Header of the frame being assembled, once its 16 bytes were seen (-1: none yet).
  private type = -1;
  private requestId = 0;
  private metaLength = 0;
  private bodyLength = 0;

  /**
   * @param onFrame called for each complete frame, in order
   * @param maxFrameBytes cap on `meta_len + body_len`; above it RESOURCE_EXHAUSTED
   * @param maxMetaBytes cap on `meta_len`; above it RESOURCE_EXHAUSTED (default: no cap of its own)
   */
  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
    private readonly maxMetaBytes: number = maxFrameBytes,
  ) {}

  /** Bytes held for an incomplete frame: at most one frame plus one read. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * What the frame being assembled will hold once whole: its declared size once its
   * header is in, else the bytes of the header so far (0: no partial frame). A server
   * reserves this against its server-wide bound on buffered input.
   */
  get pendingFrameBytes(): number {
    if (this.buffered === 0) return 0;
    return this.type < 0 ? this.buffered : HEADER_BYTES + this.metaLength + this.bodyLength;
  }

  /** True while part of a frame has been read (for the slow-sender timeout). */
  get hasPartialFrame(): boolean {
    return this.buffered > 0;
  }

  /**
   * Feeds bytes. Emits every complete frame; throws {@link FrameError} on a malformed
   * header (and stays failed). Exceptions thrown by `onFrame` propagate unchanged.
   */
  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    if (this.buffered === 0) {
      this.parseInPlace(chunk);
      return;
    }
    if (this.assembly === undefined && this.type >= 0) this.startAssembly();
    if (this.assembly !== undefined) {
      this.fill(this.assembly, chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drainChunks();
  }

  /** Fast path: nothing buffered, so frames are read straight out of `chunk`. */
  private parseInPlace(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (end - pos >= HEADER_BYTES) {
      this.readHeader(chunk, pos);
      const total = HEADER_BYTES + this.metaLength + this.bodyLength;
      if (end - pos < total) break;
      const metaStart = pos + HEADER_BYTES;
      const bodyStart = metaStart + this.metaLength;
      this.emit(chunk, metaStart, bodyStart, pos + total);
      if (this.failed) return;
      pos += total;
    }
    if (pos < end) {
      const rest = pos === 0 ? chunk : chunk.subarray(pos);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }

  /** Slow path: bytes are spread over several chunks. */
  private drainChunks(): void {
    for (;;) {
      if (this.type < 0) {
        if (this.buffered < HEADER_BYTES) return;
        const first = this.chunks[0]!;
        const head = first.length >= HEADER_BYTES ? first : this.peek(HEADER_BYTES);
        this.readHeader(head, 0);
      }
      const total = HEADER_BYTES + this.metaLength + this.bodyLength;
      if (this.buffered < total) return;
      const frame = this.take(total);
      this.emit(frame, HEADER_BYTES, HEADER_BYTES + this.metaLength, total);
      if (this.failed || this.buffered === 0) return;
      if (this.chunks.length === 1) {
        // Back to one chunk: let the fast path handle what remains.
        const rest = this.chunks[0]!;
        this.chunks = [];
        this.buffered = 0;
        this.parseInPlace(rest);
        return;
      }
    }
  }

  /** Moves the buffered start of the current frame (header known, frame incomplete) into its exact-size buffer. */
  private startAssembly(): void {
    const out = Buffer.allocUnsafeSlow(HEADER_BYTES + this.metaLength + this.bodyLength);
    let filled = 0;
    for (const c of this.chunks) {
      c.copy(out, filled);
      filled += c.length;
    }
    this.chunks = [];
    this.assembly = out;
  }

  /** Copies what `chunk` holds of the frame being assembled; emits it once whole, then decodes the rest. */
  private fill(out: Buffer, chunk: Buffer): void {
    const k = Math.min(chunk.length, out.length - this.buffered);
    chunk.copy(out, this.buffered, 0, k);
    this.buffered += k;
    if (this.buffered < out.length) return;
    this.assembly = undefined;
    this.buffered = 0;
    this.emit(out, HEADER_BYTES, HEADER_BYTES + this.metaLength, out.length);
    if (!this.failed && k < chunk.length) this.parseInPlace(chunk.subarray(k));
  }

  private readHeader(buf: Buffer, at: number): void {
    if (buf.readUInt16BE(at) !== MAGIC) this.fail(Status.INTERNAL, `bad magic 0x${buf.readUInt16BE(at).toString(16).padStart(4, '0')}, expected 0x5252 ("RR")`);
    const version = buf[at + 2]!;
    if (version !== VERSION) this.fail(Status.INTERNAL, `unknown protocol version ${version}, this peer speaks ${VERSION}`);
    const type = buf[at + 3]!;
    if (type < FrameType.REQUEST || type > FrameType.CREDIT) this.fail(Status.INTERNAL, `unknown frame type ${type}`);
    const metaLength = buf.readUInt32BE(at + 8);
    const bodyLength = buf.readUInt32BE(at + 12);
    if (metaLength + bodyLength > this.maxFrameBytes) {
      this.fail(Status.RESOURCE_EXHAUSTED, `frame of ${metaLength + bodyLength} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
    }
    if (metaLength > this.maxMetaBytes) {
      this.fail(Status.RESOURCE_EXHAUSTED, `meta of ${metaLength} bytes exceeds the meta limit of ${this.maxMetaBytes} bytes`);
    }
    this.type = type;
    // `>>> 0` keeps an id below 2^30 a small integer: `readUInt32BE` computes in floating
    // point, and a float id stored here made every id downstream a heap number, whose
    // lookups in the connection's call and pending-call maps cost several times a small
    // integer's (measured with bench/reactor.ts: a quarter of a call's cost on the reactor).
    this.requestId = buf.readUInt32BE(at + 4) >>> 0;
    this.metaLength = metaLength;
    this.bodyLength = bodyLength;
  }

  private emit(buf: Buffer, metaStart: number, bodyStart: number, end: number): void {
    const frame: Frame = {
      type: this.type as FrameType,
      requestId: this.requestId,
      meta: metaStart === bodyStart ? EMPTY_META : new Uint8Array(buf.buffer, buf.byteOffset + metaStart, bodyStart - metaStart),
      body: bodyStart === end ? EMPTY : buf.subarray(bodyStart, end),
    };
    this.type = -1;
    this.onFrame(frame);
  }

  /** Copies the first `n` buffered bytes without consuming them (n is small: a header). */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (filled === n) break;
    }
    return out;
  }

  /** Consumes `n` bytes: a view when the first chunk holds them, else one exact copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafeSlow(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  /**
   * Stops decoding and drops what is buffered; later pushes are ignored. Called by a
   * consumer that answered a frame with GOAWAY, possibly from inside `onFrame`.
   */
  stop(): void {
    this.failed = true;
    this.chunks = [];
    this.assembly = undefined;
    this.buffered = 0;
  }

  private fail(status: Status, message: string): never {
    this.stop();
    throw new FrameError(status, message);
  }
}
