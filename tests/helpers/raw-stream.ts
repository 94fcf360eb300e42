import { FrameType, type MetaInit } from '../../src/internal.js';
import { Bench } from '../../examples/bench/generated.js';
import type { RawPeer, ReadFrame } from './raw-socket.js';

/** The protocol's default window of a stream (spec §Streams). */
export const WINDOW = 65_536;

const SERVICE = 'bench.v1.Bench';

/** A Bench request of a stream method, encoded. */
export const encode = {
  stream: (count: number, payloadBytes = 0): Uint8Array => Bench.methods.stream.requestType.encode({ count, payloadBytes }).finish(),
  echo: (payload: Uint8Array): Uint8Array => Bench.methods.echo.requestType.encode({ payload }).finish(),
};

/** Opens stream `id` of Bench method `method` with a REQUEST (`body`: a server stream's request). */
export function open(peer: RawPeer, id: number, method: string, body: Uint8Array = new Uint8Array(0), meta: MetaInit = {}): void {
  peer.send(FrameType.REQUEST, id, { service: SERVICE, method, ...meta }, body);
}

export function message(peer: RawPeer, id: number, body: Uint8Array, meta: MetaInit = {}): void {
  peer.send(FrameType.MESSAGE, id, meta, body);
}

export function halfClose(peer: RawPeer, id: number): void {
  peer.send(FrameType.HALF_CLOSE, id);
}

export function credit(peer: RawPeer, id: number, bytes: number): void {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(bytes);
  peer.send(FrameType.CREDIT, id, {}, body);
}

/** Bytes a frame takes of a stream's credit: the whole frame (spec §Streams). */
export function frameBytes(frame: ReadFrame): number {
  return 16 + frame.meta.length + frame.body.length;
}

/** What a raw client read of one stream. */
export interface StreamRead {
  readonly messages: ReadFrame[];
  readonly response: ReadFrame;
  /** CREDIT frames the server sent, in bytes granted. */
  readonly credits: number[];
}

/**
 * Plays a well-behaved client of stream `id` until its RESPONSE: sends `send` as MESSAGEs
 * within the server's credit (the default window, plus its CREDITs), then half-closes
 * (unless `halfClose` is false); reads the server's MESSAGEs and, with `grant`, grants back
 * what it read once half the window was read, as ringrpc peers do.
 */
export async function runStream(
  peer: RawPeer,
  id: number,
  options: { send?: readonly Uint8Array[]; halfClose?: boolean; grant?: boolean; window?: number; ms?: number } = {},
): Promise<StreamRead> {
  const { send, halfClose: closeAfter = send !== undefined, grant = true, window = WINDOW, ms = 30_000 } = options;
  // As ringrpc's own client does: a MESSAGE or CREDIT written after a wait is not held back
  // by Nagle's algorithm until the server's delayed ACK (about 40 ms a window).
  peer.socket.setNoDelay(true);
  const messages: ReadFrame[] = [];
  const credits: number[] = [];
  let sendCredit = WINDOW;
  let sent = 0;
  let halfClosed = false;
  let unGranted = 0;
  const deadline = Date.now() + ms;
  for (;;) {
    while (send !== undefined && sent < send.length && sendCredit > 0) {
      message(peer, id, send[sent]!);
      sendCredit -= 16 + send[sent]!.length;
      sent++;
    }
    if (closeAfter && !halfClosed && sent === (send?.length ?? 0)) {
      halfClose(peer, id);
      halfClosed = true;
    }
    const mine = take(peer, id);
    for (const frame of mine) {
      if (frame.type === FrameType.RESPONSE) return { messages, response: frame, credits };
      if (frame.type === FrameType.CREDIT) {
        credits.push(frame.body.readUInt32BE(0));
        sendCredit += frame.body.readUInt32BE(0);
      }
      if (frame.type !== FrameType.MESSAGE) continue;
      messages.push(frame);
      unGranted += frameBytes(frame);
      if (grant && unGranted >= window / 2) {
        credit(peer, id, unGranted);
        unGranted = 0;
      }
    }
    if (mine.length > 0) continue; // a CREDIT may let more be sent before waiting
    if (peer.closed) throw new Error(`connection closed before stream ${id} ended (${messages.length} messages read, ${sent} sent)`);
    await peer.until(() => peer.closed || peer.frames.some((f) => f.requestId === id), Math.max(1, deadline - Date.now()), `stream ${id}'s frames`);
  }
}

/** Takes the frames of stream `id` out of what the peer read, in order. */
export function take(peer: RawPeer, id: number): ReadFrame[] {
  const mine: ReadFrame[] = [];
  let kept = 0;
  for (const frame of peer.frames) {
    if (frame.requestId === id) mine.push(frame);
    else peer.frames[kept++] = frame;
  }
  peer.frames.length = kept;
  return mine;
}

/** The Bench reply payload of a MESSAGE. */
export function replyPayload(frame: ReadFrame): Uint8Array {
  return (Bench.methods.stream.responseType.decode(frame.body) as unknown as { payload: Uint8Array }).payload;
}
