import { Status } from '../status.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import { GrpcFault, GrpcMessageReader, type GrpcMessage } from './grpc-wire.js';

/**
 * A call's request as it arrives on its stream: its messages read (the size limit checked
 * at each prefix, before anything is buffered), the declared size of the one arriving held
 * against the server-wide `maxBufferedInputBytes` while it arrives (as a partial ringrpc
 * frame's is), and since when it has been arriving (the sweep holds it to `frameTimeoutMs`).
 * A unary call's (and a server stream's) request is one message; a client- or
 * bidirectional stream's messages go to `onMessage` as each completes.
 */
export class GrpcUpload {
  private readonly reader: GrpcMessageReader;
  /** Bytes reserved now against `maxBufferedInputBytes` (the message still arriving). */
  private reserved = 0;
  /**
   * Since when (epoch ms) the request has been arriving: a unary call's from its headers;
   * a stream's from the prefix of the message arriving, `Infinity` between messages and
   * while its reading is held back (see {@link hold}).
   */
  since: number;
  private held = false;

  /**
   * @param since when the request's headers were read (epoch ms)
   * @param onReserve told each change of the reservation, so the session can give back what its uploads hold when it closes
   * @param onMessage a stream's: takes each message as it completes
   */
  constructor(
    private readonly host: ConnectionHost<HostedConnection>,
    since: number,
    private readonly onReserve: (delta: number) => void,
    private readonly onMessage?: (message: GrpcMessage) => void,
  ) {
    this.since = onMessage === undefined ? since : Number.POSITIVE_INFINITY;
    this.reader = new GrpcMessageReader(host.options.maxFrameBytes, (bytes) => this.reserve(bytes), onMessage);
  }

  /** A DATA chunk; throws a GrpcFault when the request is at fault (its reservation goes with it). */
  push(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.release();
      throw err;
    }
    if (this.reader.pendingBytes === 0) {
      this.release();
      if (this.onMessage !== undefined) this.since = Number.POSITIVE_INFINITY;
    }
  }

  /** END_STREAM: the request's one message (none for a stream), or a GrpcFault (none for a unary call, or a truncated one). */
  end(): GrpcMessage | undefined {
    const message = this.reader.end();
    if (message === undefined && this.onMessage === undefined) {
      throw new GrpcFault(Status.INTERNAL, 'request stream ended without a message: a unary call takes one');
    }
    return message;
  }

  /**
   * A stream's reading is held back (`true`: the handler is behind, HTTP/2 makes the client
   * wait) or resumes: a message cut short meanwhile is not the client's delay.
   */
  hold(held: boolean): void {
    this.held = held;
    this.since = held || this.reader.pendingBytes === 0 ? Number.POSITIVE_INFINITY : Date.now();
  }

  /** Gives the reservation back (the message is in, or will never be). */
  release(): void {
    if (this.reserved === 0) return;
    this.host.reserveInput(-this.reserved);
    this.onReserve(-this.reserved);
    this.reserved = 0;
  }

  private reserve(bytes: number): void {
    this.release(); // a stream's previous message is in
    if (!this.host.reserveInput(bytes)) {
      const { maxBufferedInputBytes } = this.host.options;
      throw new GrpcFault(
        Status.RESOURCE_EXHAUSTED,
        `message of ${bytes} bytes refused: the server holds ${this.host.counters.bufferedIn} bytes of incomplete messages (maxBufferedInputBytes ${maxBufferedInputBytes})`,
      );
    }
    this.reserved = bytes;
    this.onReserve(bytes);
    if (this.onMessage !== undefined && !this.held) this.since = Date.now();
  }
}
