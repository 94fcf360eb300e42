import net from 'node:net';
import { once } from 'node:events';

/** HTTP/2 frame types (RFC 9113 §6) that the tests read or write. */
export const H2 = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** A frame as the peer read it, with the time it arrived. */
export interface H2Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
  readonly at: number;
}

/**
 * An HTTP/2 client written frame by frame, for the peers node's and grpc-js's clients cannot
 * play: it answers the server's PINGs only if told to (`ackPings`), sends GOAWAY when told,
 * and, on a half-open socket, never closes its side when the server ends its own. It
 * acknowledges the server's SETTINGS and decodes nothing of what it reads but the frame
 * headers (no HPACK: its own headers are literals without indexing).
 */
export class RawH2Peer {
  readonly frames: H2Frame[] = [];
  /** The server ended its side (its FIN arrived). */
  ended = false;
  closed = false;
  private pending = Buffer.alloc(0);

  private constructor(
    readonly socket: net.Socket,
    private readonly ackPings: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => {});
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
  }

  /** Connects on a half-open socket, sends the preface and an empty SETTINGS. */
  static async connect(port: number, { ackPings }: { ackPings: boolean }): Promise<RawH2Peer> {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    await once(socket, 'connect');
    socket.write(Buffer.concat([PREFACE, frame(H2.SETTINGS, 0, 0, Buffer.alloc(0))]));
    return new RawH2Peer(socket, ackPings);
  }

  /** A unary gRPC call on `streamId`: its headers, then its one message with END_STREAM. */
  call(streamId: number, path: string, message: Uint8Array): void {
    const headers: Array<[string, string]> = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', path],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
    ];
    const block = Buffer.concat(
      headers.map(([name, value]) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)])),
    );
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    this.socket.write(Buffer.concat([frame(H2.HEADERS, END_HEADERS, streamId, block), frame(H2.DATA, END_STREAM, streamId, Buffer.concat([prefix, message]))]));
  }

  /** The client's own GOAWAY: it opens no more streams (`lastStreamId` 0: the server opened none). */
  goaway(): void {
    this.socket.write(frame(H2.GOAWAY, 0, 0, Buffer.alloc(8)));
  }

  /** The GOAWAYs read so far, as (last stream id, error code). */
  goaways(): Array<{ lastStreamId: number; code: number; at: number }> {
    return this.frames
      .filter((f) => f.type === H2.GOAWAY)
      .map((f) => ({ lastStreamId: f.payload.readUInt32BE(0) & 0x7fff_ffff, code: f.payload.readUInt32BE(4), at: f.at }));
  }

  /** Whether the server ended stream `streamId` (a frame of it with END_STREAM: a call's trailers). */
  streamEnded(streamId: number): boolean {
    return this.frames.some((f) => f.streamId === streamId && (f.type === H2.HEADERS || f.type === H2.DATA) && (f.flags & END_STREAM) !== 0);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 9) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) return;
      const f: H2Frame = {
        type: this.pending[3]!,
        flags: this.pending[4]!,
        streamId: this.pending.readUInt32BE(5) & 0x7fff_ffff,
        payload: Buffer.from(this.pending.subarray(9, 9 + length)),
        at: Date.now(),
      };
      this.pending = this.pending.subarray(9 + length);
      this.frames.push(f);
      if (f.type === H2.SETTINGS && (f.flags & ACK) === 0) this.socket.write(frame(H2.SETTINGS, ACK, 0, Buffer.alloc(0)));
      if (f.type === H2.PING && (f.flags & ACK) === 0 && this.ackPings) this.socket.write(frame(H2.PING, ACK, 0, f.payload));
    }
  }
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}
