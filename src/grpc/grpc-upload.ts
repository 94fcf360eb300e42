import { Status } from '../status.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import { GrpcFault, GrpcMessageReader, type GrpcMessage } from './grpc-wire.js';

/**
 * One unary call's request as it arrives on its stream: its message read (the size limit
 * checked at the prefix, before anything is buffered), its declared size held against the
 * server-wide `maxBufferedInputBytes` while it arrives (as a partial ringrpc frame's is),
 * and since when it has been arriving (the sweep holds it to `frameTimeoutMs`).
 */
export class GrpcUpload {
  private readonly reader: GrpcMessageReader;
  /** Bytes reserved now against `maxBufferedInputBytes` (the message still arriving). */
  private reserved = 0;

  /**
   * @param since when the request's headers were read (epoch ms)
   * @param onReserve told each change of the reservation, so the session can give back what its uploads hold when it closes
   */
  constructor(
    private readonly host: ConnectionHost<HostedConnection>,
    readonly since: number,
    private readonly onReserve: (delta: number) => void,
  ) {
    this.reader = new GrpcMessageReader(host.options.maxFrameBytes, (bytes) => this.reserve(bytes));
  }

  /** A DATA chunk; throws a GrpcFault when the request is at fault (its reservation goes with it). */
  push(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.release();
      throw err;
    }
    if (this.reader.pendingBytes === 0) this.release();
  }

  /** END_STREAM: the request's one message, or a GrpcFault (none, or a truncated one). */
  end(): GrpcMessage {
    const message = this.reader.end();
    if (message === undefined) throw new GrpcFault(Status.INTERNAL, 'request stream ended without a message: a unary call takes one');
    return message;
  }

  /** Gives the reservation back (the message is in, or will never be). */
  release(): void {
    if (this.reserved === 0) return;
    this.host.reserveInput(-this.reserved);
    this.onReserve(-this.reserved);
    this.reserved = 0;
  }

  private reserve(bytes: number): void {
    if (!this.host.reserveInput(bytes)) {
      const { maxBufferedInputBytes } = this.host.options;
      throw new GrpcFault(
        Status.RESOURCE_EXHAUSTED,
        `message of ${bytes} bytes refused: the server holds ${this.host.counters.bufferedIn} bytes of incomplete messages (maxBufferedInputBytes ${maxBufferedInputBytes})`,
      );
    }
    this.reserved = bytes;
    this.onReserve(bytes);
  }
}
