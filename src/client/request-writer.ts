import type { MethodDefinition } from '../codec/service-definition.js';
import { Compression, type FrameType } from '../protocol/constants.js';
import { compress } from '../protocol/compression.js';
import { encodeMeta } from '../protocol/meta.js';
import type { FrameWriter } from '../transport/frame-writer.js';
import type { Frame } from '../protocol/frame.js';

/**
 * The stream side of a call (spec §Streams): the channel hands it the MESSAGE and CREDIT
 * frames that carry the call's request id, and its REQUEST carries `Meta.window`.
 */
export interface StreamPeer {
  /** The client's initial window for the server's MESSAGEs, sent as `Meta.window`. */
  readonly window: number;
  /** A MESSAGE or CREDIT of the stream, while its call is in flight. */
  onFrame(frame: Frame): void;
}

/** What a caller asks of one call. */
export interface ChannelCall {
  readonly method: MethodDefinition;
  readonly body: Uint8Array;
  /** Deadline in ms from now, sent as `Meta.timeout_ms` (0: none). */
  readonly timeoutMs: number;
  /** The whole call's deadline, across attempts, for the error message (default `timeoutMs`). */
  readonly callTimeoutMs?: number;
  readonly signal: AbortSignal | undefined;
  readonly metadata: Record<string, string> | undefined;
  /** The routing key, sent as `Meta.key` (the actor lane's address). */
  readonly key?: string | undefined;
  readonly onMetadata?: ((metadata: Readonly<Record<string, string>>) => void) | undefined;
  /** Bodies at least this large are gzipped (Infinity: never). */
  readonly gzipAboveBytes: number;
  /** Set on a stream (undefined on a unary call): it hears the stream's frames. */
  readonly stream?: StreamPeer | undefined;
}

const EMPTY = Buffer.alloc(0);

/** Room after a method's Meta prefix for the deadline field: its tag and a varint of up to 5 bytes. */
const DEADLINE_FIELD_BYTES = 6;
/** Meta field 3, `timeout_ms`, varint. */
const TIMEOUT_MS_TAG = 0x18;

/**
 * Turns calls into REQUEST and ONEWAY frames on one connection: the meta (service and
 * method encoded once per method, then deadline, metadata and compression) and the
 * gzip of large bodies. Gzip is asynchronous, so `stillWanted` is asked before the
 * frame is written: a call that timed out meanwhile, or a closed socket, writes nothing.
 *
 * The common call (no metadata, key, compression or stream) costs no encoding of its own:
 * its meta is the method's prefix with the deadline varint written after it, in the
 * buffer the prefix is kept in, and the frame writer copies it straight into its batch.
 */
export class RequestWriter {
  /** Meta prefix (service + method fields) per method, encoded once, with room for the deadline after it. */
  private readonly metaPrefixes = new Map<MethodDefinition, Buffer>();
  private lastMethod: MethodDefinition | undefined;
  private lastPrefix: Buffer = EMPTY;

  constructor(
    private readonly writer: FrameWriter,
    private readonly stillWanted: (type: FrameType, id: number) => boolean,
  ) {}

  /** Writes `call` as a frame of `type` (REQUEST or ONEWAY) with request id `id`. */
  write(type: FrameType, id: number, call: ChannelCall): void {
    if (call.body.length >= call.gzipAboveBytes) {
      compress(call.body).then(
        (zipped) => this.writeFrame(type, id, call, zipped, Compression.GZIP),
        () => this.writeFrame(type, id, call, call.body, Compression.NONE),
      );
      return;
    }
    if (call.metadata === undefined && !call.key && call.stream === undefined) {
      this.writePlain(type, id, call);
      return;
    }
    this.writeFrame(type, id, call, call.body, Compression.NONE);
  }

  /** No metadata, key or compression: the cached prefix, the deadline patched in after it. */
  private writePlain(type: FrameType, id: number, call: ChannelCall): void {
    const room = this.prefixOf(call.method);
    const prefixLength = room.length - DEADLINE_FIELD_BYTES;
    let length = prefixLength;
    const timeoutMs = call.timeoutMs;
    if (timeoutMs > 0) {
      room[length++] = TIMEOUT_MS_TAG;
      let value = timeoutMs >>> 0;
      while (value >= 0x80) {
        room[length++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
      room[length++] = value;
    }
    this.writer.frame(type, id, room, call.body, length); // copies the meta before returning
  }

  private writeFrame(type: FrameType, id: number, call: ChannelCall, body: Uint8Array, compression: Compression): void {
    if (!this.stillWanted(type, id)) return;
    const room = this.prefixOf(call.method);
    const prefix = room.subarray(0, room.length - DEADLINE_FIELD_BYTES);
    const extra =
      call.timeoutMs > 0 || call.metadata !== undefined || call.key || compression !== Compression.NONE || call.stream !== undefined
        ? encodeMeta({ timeoutMs: call.timeoutMs, metadata: call.metadata, compression, key: call.key, window: call.stream?.window })
        : EMPTY;
    const meta = extra.length === 0 ? prefix : Buffer.concat([prefix, extra]);
    this.writer.frame(type, id, meta, body);
  }

  private prefixOf(method: MethodDefinition): Buffer {
    if (method === this.lastMethod) return this.lastPrefix;
    let room = this.metaPrefixes.get(method);
    if (room === undefined) {
      const prefix = encodeMeta({ service: method.service, method: method.name });
      room = Buffer.alloc(prefix.length + DEADLINE_FIELD_BYTES);
      prefix.copy(room);
      this.metaPrefixes.set(method, room);
    }
    this.lastMethod = method;
    this.lastPrefix = room;
    return room;
  }
}
