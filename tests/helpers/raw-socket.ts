import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder, decodeMeta, encodeFrame, encodeMeta, type FrameType, type Frame, type Meta, type MetaInit } from '../../src/internal.js';

/** A frame as read back by a raw peer, with its meta decoded. */
export interface ReadFrame extends Frame {
  readonly decodedMeta: Meta;
}

/**
 * A raw TCP peer that writes arbitrary bytes and reads back frames: to test the server
 * against input that no well-behaved client would send.
 */
export class RawPeer {
  readonly frames: ReadFrame[] = [];
  /** The server ended its side (its FIN arrived). */
  ended = false;
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder((frame) => {
      this.frames.push({ ...frame, meta: Buffer.from(frame.meta), body: Buffer.from(frame.body), decodedMeta: decodeMeta(frame.meta) });
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /**
   * `halfOpen`: the peer does not close its side when the server ends its own (as a peer
   * that does not read would not), so the socket stays open until the server destroys it.
   */
  static async connect(port: number, { halfOpen = false }: { halfOpen?: boolean } = {}): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: halfOpen });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes a frame built from its parts. */
  send(type: FrameType, requestId: number, meta: MetaInit | Uint8Array = {}, body: Uint8Array = Buffer.alloc(0)): void {
    this.write(encodeFrame(type, requestId, meta instanceof Uint8Array ? meta : encodeMeta(meta), body));
  }

  /** Resolves once `predicate` holds (checked on each frame and on close), or rejects after `ms`. */
  async until(predicate: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next frame of `type` (waits for it). */
  async next(type: FrameType, ms = 2000): Promise<ReadFrame> {
    await this.until(() => this.frames.some((f) => f.type === type), ms, `a frame of type ${type}`);
    const index = this.frames.findIndex((f) => f.type === type);
    return this.frames.splice(index, 1)[0]!;
  }

  /** Waits for the server to end its side. */
  async waitEnded(ms = 2000): Promise<void> {
    await this.until(() => this.ended, ms, 'the server to end the connection');
  }

  async waitClosed(ms = 2000): Promise<void> {
    await this.until(() => this.closed, ms, 'the connection to close');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
