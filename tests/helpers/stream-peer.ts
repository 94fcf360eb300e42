import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder, FrameType, HEADER_BYTES, decodeMeta, encodeFrame, encodeMeta, type Meta, type MetaInit } from '../../src/internal.js';

const EMPTY = Buffer.alloc(0);

/**
 * One call as a {@link ScriptedPeer} sees it: its REQUEST, what the client sent on it since
 * (MESSAGEs, HALF_CLOSE, CREDIT, CANCEL), and what the test makes the peer answer. The
 * peer keeps the stream's flow control as a server would, so a test can both obey it
 * (`sendable`) and break it.
 */
export interface PeerCall {
  readonly id: number;
  readonly meta: Meta;
  readonly body: Buffer;
  readonly socket: net.Socket;
  /** Bodies of the client's MESSAGEs, in order. */
  readonly messages: Buffer[];
  /** Bytes of CREDIT the client granted, in all; and how many CREDIT frames. */
  credited: number;
  credits: number;
  halfClosed: boolean;
  /** The meta of the client's CANCEL, once it came. */
  cancel: Meta | undefined;
  /** Set by a script that answers as the client's MESSAGEs and HALF_CLOSE come (a bidirectional echo). */
  onMessage?: ((body: Buffer) => void) | undefined;
  onHalfClose?: (() => void) | undefined;
  /** The peer's credit for MESSAGEs: the REQUEST's window (65,536 when 0) + credited − bytes sent. */
  readonly sendable: number;
  /** Sends a MESSAGE (whatever the credit). */
  message(body: Uint8Array, meta?: MetaInit): void;
  /** Grants the client `bytes` more credit for its MESSAGEs. */
  credit(bytes: number): void;
  /** Ends the call with a RESPONSE. */
  respond(meta?: MetaInit, body?: Uint8Array): void;
}

/**
 * A raw-protocol server for client tests: it reads frames with the real decoder, answers
 * PINGs, records every call and hands each REQUEST to the test's script, which answers
 * what it likes — obeying flow control or not, never granting credit, dying mid-stream.
 */
export class ScriptedPeer {
  readonly calls: PeerCall[] = [];
  /** Every frame from the client, in order: type and request id. */
  readonly frames: Array<{ type: number; id: number }> = [];
  readonly sockets = new Set<net.Socket>();
  private waiters: Array<() => void> = [];
  private pongs = new Map<number, () => void>();
  private nextPing = 1_000_000;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts a peer on 127.0.0.1:<free port>; `onCall` is given each REQUEST (also unary ones). */
  static async start(onCall: (call: PeerCall) => void): Promise<ScriptedPeer> {
    let peer: ScriptedPeer | undefined;
    const server = net.createServer((socket) => peer!.accept(socket, onCall));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    peer = new ScriptedPeer(server, (server.address() as net.AddressInfo).port);
    return peer;
  }

  private accept(socket: net.Socket, onCall: (call: PeerCall) => void): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.wake();
    });
    const byId = new Map<number, PeerCall & { sent: number }>();
    const decoder = new FrameDecoder((frame) => {
      this.frames.push({ type: frame.type, id: frame.requestId });
      const call = byId.get(frame.requestId);
      switch (frame.type) {
        case FrameType.PING:
          socket.write(encodeFrame(FrameType.PONG, frame.requestId, EMPTY, Buffer.from(frame.body)));
          break;
        case FrameType.PONG:
          this.pongs.get(frame.requestId)?.();
          break;
        case FrameType.REQUEST: {
          const made = makeCall(socket, frame.requestId, decodeMeta(frame.meta), Buffer.from(frame.body));
          byId.set(frame.requestId, made);
          this.calls.push(made);
          onCall(made);
          break;
        }
        case FrameType.MESSAGE:
          call?.messages.push(Buffer.from(frame.body));
          call?.onMessage?.(Buffer.from(frame.body));
          break;
        case FrameType.HALF_CLOSE:
          if (call) call.halfClosed = true;
          call?.onHalfClose?.();
          break;
        case FrameType.CREDIT:
          if (call) {
            call.credited += Buffer.from(frame.body).readUInt32BE(0);
            call.credits++;
          }
          break;
        case FrameType.CANCEL:
          if (call) call.cancel = decodeMeta(frame.meta);
          break;
      }
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  /** Resolves once `predicate` holds (checked on each frame from the client), or rejects after `ms`. */
  async until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * A PING to the client on `socket`, resolved by its PONG: the client has read and handled
   * everything the peer sent before it, and its PONG leaves after whatever that made it write.
   */
  async roundTrip(socket: net.Socket): Promise<void> {
    const id = this.nextPing++;
    const answered = new Promise<void>((resolve) => this.pongs.set(id, resolve));
    socket.write(encodeFrame(FrameType.PING, id, EMPTY, EMPTY));
    await answered;
    this.pongs.delete(id);
  }

  /** Destroys every connection (the peer dies mid-call). */
  kill(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.kill();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function makeCall(socket: net.Socket, id: number, meta: Meta, body: Buffer): PeerCall & { sent: number } {
  const write = (type: FrameType, m: Uint8Array, b: Uint8Array): void => {
    if (!socket.destroyed) socket.write(encodeFrame(type, id, m, b));
  };
  const call = {
    id,
    meta,
    body,
    socket,
    messages: [] as Buffer[],
    credited: 0,
    credits: 0,
    halfClosed: false,
    cancel: undefined as Meta | undefined,
    onMessage: undefined as ((body: Buffer) => void) | undefined,
    onHalfClose: undefined as (() => void) | undefined,
    sent: 0,
    get sendable(): number {
      return (meta.window || 65_536) + call.credited - call.sent;
    },
    message(b: Uint8Array, m: MetaInit = {}): void {
      const encoded = encodeMeta(m);
      call.sent += HEADER_BYTES + encoded.length + b.length;
      write(FrameType.MESSAGE, encoded, b);
    },
    credit(bytes: number): void {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(bytes, 0);
      write(FrameType.CREDIT, EMPTY, b);
    },
    respond(m: MetaInit = {}, b: Uint8Array = EMPTY): void {
      write(FrameType.RESPONSE, encodeMeta(m), b);
    },
  };
  return call;
}
