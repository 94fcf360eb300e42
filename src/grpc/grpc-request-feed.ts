import type { ServerHttp2Stream } from 'node:http2';
import { Status } from '../status.js';
import { Compression } from '../protocol/constants.js';
import type { RequestFeed } from '../pipeline/request-stream.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import { GrpcUpload } from './grpc-upload.js';
import { GrpcFault, MESSAGE_PREFIX_BYTES, type GrpcMessage } from './grpc-wire.js';

/**
 * The requests of a client- or bidirectional gRPC stream, from its HTTP/2 stream into the
 * runner's request stream (or a worker lane's relay to the handler's thread), in order: each length-prefixed message (gzipped when its
 * flag says so, which `grpc-encoding: gzip` must allow) is pushed as it completes, and
 * END_STREAM is the half-close.
 *
 * Flow control is HTTP/2's: the feed keeps the credit the request stream counts (its
 * window, minus each message's prefix and bytes, plus what it grants as the handler
 * consumes), and at none it pauses the stream: node then stops taking its DATA, the
 * stream's HTTP/2 window is not given back, and the client waits. Messages of a chunk
 * already read wait here (at most that chunk) until credit comes back; then reading resumes.
 */
export class GrpcRequestFeed {
  readonly upload: GrpcUpload;
  private credit: number;
  /** Messages read while the credit was spent, in order. */
  private readonly waiting: GrpcMessage[] = [];
  /** END_STREAM was read: the half-close follows the messages still waiting. */
  private ended = false;
  private halfClosed = false;
  private paused = false;

  /**
   * @param gzip the call's `grpc-encoding` is gzip: a message may be compressed
   * @param fail ends the call: a message at fault that was waiting, or one the request stream refuses
   */
  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly requests: RequestFeed,
    window: number,
    private readonly gzip: boolean,
    host: ConnectionHost<HostedConnection>,
    onReserve: (delta: number) => void,
    private readonly fail: (err: unknown) => void,
  ) {
    this.credit = window;
    this.upload = new GrpcUpload(host, Date.now(), onReserve, (message) => this.onMessage(message));
  }

  /** A DATA chunk; throws a GrpcFault for a message at fault. */
  push(chunk: Buffer): void {
    this.upload.push(chunk);
  }

  /** END_STREAM: the half-close, once the messages waiting are in; throws a GrpcFault when it cut a message short. */
  end(): void {
    this.upload.end();
    this.ended = true;
    this.flush();
  }

  /** The handler consumed `bytes` of messages: push what waits, and read again while there is credit. */
  grant(bytes: number): void {
    this.credit += bytes;
    try {
      this.flush();
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.paused && this.credit > 0) {
      this.paused = false;
      this.upload.hold(false);
      this.stream.resume();
    }
  }

  private onMessage(message: GrpcMessage): void {
    if (message.compressed && !this.gzip) throw new GrpcFault(Status.INTERNAL, 'compressed message with grpc-encoding identity (or none)');
    if (this.credit > 0 && this.waiting.length === 0) this.deliver(message);
    else this.waiting.push(message);
    if (this.credit <= 0 && !this.paused) {
      this.paused = true;
      this.upload.hold(true);
      this.stream.pause();
    }
  }

  private flush(): void {
    while (this.credit > 0 && this.waiting.length > 0) this.deliver(this.waiting.shift()!);
    if (this.ended && this.waiting.length === 0 && !this.halfClosed) {
      this.halfClosed = true;
      const error = this.requests.halfClose();
      if (error !== undefined) throw new GrpcFault(error.code, error.rawMessage);
    }
  }

  private deliver(message: GrpcMessage): void {
    const bytes = MESSAGE_PREFIX_BYTES + message.body.length;
    this.credit -= bytes;
    const error = this.requests.push(message.body, message.compressed ? Compression.GZIP : Compression.NONE, bytes);
    if (error !== undefined) throw new GrpcFault(error.code, error.rawMessage);
  }
}
