import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression, DEFAULT_STREAM_WINDOW, FrameType, HEADER_BYTES, MAX_STREAM_CREDIT, frameTypeName } from '../protocol/constants.js';
import type { Frame, FrameBody } from '../protocol/frame.js';
import { decodeMeta, GZIP_MESSAGE_META, messageCost } from '../protocol/meta.js';
import { PipelineStream, type StreamSink } from '../pipeline/stream-pipeline.js';
import type { CallTable } from './call-table.js';
import type { CallLane } from './router.js';
import type { ServerCall } from './server-call.js';
import { COPY_BELOW_BYTES, type FrameWriter } from '../transport/frame-writer.js';

/** What a stream's frames need of the ringrpc connection it runs on. */
export interface StreamConnection {
  /** Writes one frame of a stream (nothing once the connection is going). */
  writeFrame(type: FrameType, requestId: number, meta: Uint8Array, body: FrameBody): void;
  /** A fault of the connection as a whole: GOAWAY, then close. */
  goAwayAndClose(status: Status, message: string, reason?: 'protocol-error'): void;
  /** Its writer: a connection that streams encodes its frames into a slab. */
  readonly writer: Pick<FrameWriter, 'useSlab'>;
}

/** The slab of a connection that has streamed: its MESSAGEs are many and small. */
const STREAMING_SLAB_BYTES = 64 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * Gives a stream method's call, taken from a REQUEST, its stream state (spec §Streams): the
 * client's window for the server's MESSAGEs is the REQUEST's `window` (the default when 0),
 * the client's own is the default. Done at the REQUEST, so that MESSAGEs the client sends
 * before the handler starts (interceptors still deciding) are buffered, within the window.
 * A lane that runs the handler elsewhere (the worker lane) keeps the state its own way.
 */
export function openStream(connection: StreamConnection, call: ServerCall, lane: CallLane, maxBytes: number): void {
  const window = call.meta.window === 0 ? DEFAULT_STREAM_WINDOW : Math.min(call.meta.window, MAX_STREAM_CREDIT);
  connection.writer.useSlab(STREAMING_SLAB_BYTES);
  const sink = new FrameSink(connection, call.requestId);
  const limits = { receiveWindow: DEFAULT_STREAM_WINDOW, sendWindow: window, maxCredit: MAX_STREAM_CREDIT, maxBytes };
  call.stream = lane.openStream?.(call, sink, limits) ?? new PipelineStream(call, sink, limits);
}

/**
 * A MESSAGE, HALF_CLOSE or CREDIT frame, as the spec's §Streams bad-input rows say: for an
 * id the client never opened, GOAWAY; for a stream that ended, nothing (it crossed the end
 * on the wire); for a call that takes no such frame, or one that breaks the stream's rules,
 * a RESPONSE that ends that call; else handed to the stream.
 */
export function onStreamFrame(connection: StreamConnection, calls: CallTable, frame: Frame): void {
  const id = frame.requestId;
  const name = frameTypeName(frame.type);
  if (id === 0 || id > calls.lastTaken) {
    return connection.goAwayAndClose(
      Status.INTERNAL,
      `${name} with request_id ${id}, which no REQUEST opened (highest taken: ${calls.lastTaken})`,
      'protocol-error',
    );
  }
  if (frame.type === FrameType.CREDIT) {
    const bytes = frame.body.length === 4 ? frame.body.readUInt32BE(0) : 0;
    if (bytes === 0) {
      const what = frame.body.length === 4 ? 'grants 0 bytes' : `has a body of ${frame.body.length} bytes, not 4`;
      return connection.goAwayAndClose(Status.INTERNAL, `CREDIT for request_id ${id} ${what}`, 'protocol-error');
    }
    const call = calls.get(id);
    const error = call?.stream?.grant(bytes); // a call that sends no MESSAGEs has no use for it
    if (error !== undefined) call!.fail(error);
    return;
  }
  let compression: number = Compression.NONE;
  if (frame.meta.length > 0) {
    try {
      compression = decodeMeta(frame.meta).compression;
    } catch (err) {
      return connection.goAwayAndClose(Status.INTERNAL, (err as Error).message, 'protocol-error');
    }
  }
  const call = calls.get(id);
  if (call === undefined) return; // the stream ended: the frame crossed its end on the wire
  const requests = call.stream?.requests;
  if (requests === undefined) {
    call.fail(new RpcError(Status.INTERNAL, `${name} for ${call.service}/${call.method}, a ${call.definition.kind} call, which takes no ${name}`));
    return;
  }
  const error =
    frame.type === FrameType.MESSAGE ? requests.push(frame.body, compression, HEADER_BYTES + frame.meta.length + frame.body.length) : requests.halfClose();
  if (error !== undefined) call.fail(error);
}

/** A stream's replies and grants as frames on its connection. */
class FrameSink implements StreamSink {
  /** The connection's writer copies small frames as it takes them. */
  readonly copiesBelow = COPY_BELOW_BYTES;

  constructor(
    private readonly connection: StreamConnection,
    private readonly requestId: number,
  ) {}

  message(body: Uint8Array, compression: Compression): number {
    this.connection.writeFrame(FrameType.MESSAGE, this.requestId, compression === Compression.GZIP ? GZIP_MESSAGE_META : EMPTY, body);
    return messageCost(body.length, compression);
  }

  grant(bytes: number): void {
    const body = Buffer.allocUnsafe(4);
    body.writeUInt32BE(bytes);
    this.connection.writeFrame(FrameType.CREDIT, this.requestId, EMPTY, body);
  }
}
