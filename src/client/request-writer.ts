import type { MethodDefinition } from '../codec/service-definition.js';
import { Compression, type FrameType } from '../protocol/constants.js';
import { compress } from '../protocol/compression.js';
import { encodeMeta } from '../protocol/meta.js';
import type { FrameWriter } from '../transport/frame-writer.js';

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
}

const EMPTY = Buffer.alloc(0);

/**
 * Turns calls into REQUEST and ONEWAY frames on one connection: the meta (service and
 * method encoded once per method, then deadline, metadata and compression) and the
 * gzip of large bodies. Gzip is asynchronous, so `stillWanted` is asked before the
 * frame is written: a call that timed out meanwhile, or a closed socket, writes nothing.
 */
export class RequestWriter {
  /** Meta prefix (service + method fields) per method, encoded once. */
  private readonly metaPrefixes = new Map<MethodDefinition, Buffer>();

  constructor(
    private readonly writer: FrameWriter,
    private readonly stillWanted: (type: FrameType, id: number) => boolean,
  ) {}

  /** Writes `call` as a frame of `type` (REQUEST or ONEWAY) with request id `id`. */
  write(type: FrameType, id: number, call: ChannelCall): void {
    const prefix = this.metaPrefix(call.method);
    if (call.body.length >= call.gzipAboveBytes) {
      compress(call.body).then(
        (zipped) => this.writeFrame(type, id, prefix, call, zipped, Compression.GZIP),
        () => this.writeFrame(type, id, prefix, call, call.body, Compression.NONE),
      );
      return;
    }
    this.writeFrame(type, id, prefix, call, call.body, Compression.NONE);
  }

  private writeFrame(type: FrameType, id: number, prefix: Buffer, call: ChannelCall, body: Uint8Array, compression: Compression): void {
    if (!this.stillWanted(type, id)) return;
    const extra =
      call.timeoutMs > 0 || call.metadata !== undefined || call.key || compression !== Compression.NONE
        ? encodeMeta({ timeoutMs: call.timeoutMs, metadata: call.metadata, compression, key: call.key })
        : EMPTY;
    const meta = extra.length === 0 ? prefix : Buffer.concat([prefix, extra]);
    this.writer.frame(type, id, meta, body);
  }

  private metaPrefix(method: MethodDefinition): Buffer {
    let prefix = this.metaPrefixes.get(method);
    if (prefix === undefined) {
      prefix = encodeMeta({ service: method.service, method: method.name });
      this.metaPrefixes.set(method, prefix);
    }
    return prefix;
  }
}
