import type { MessagePort } from 'node:worker_threads';
import type { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { halfCloseFault, messageFault, type RequestFeed } from '../pipeline/request-stream.js';
import type { StreamSink } from '../pipeline/stream-pipeline.js';

/** What the reactor posts to a thread on its stream port, for one stream (its slot and request id name it). */
export type RelayToThread =
  | {
      readonly kind: 'message';
      readonly slot: number;
      readonly requestId: number;
      readonly body: Uint8Array;
      readonly compression: number;
      readonly bytes: number;
    }
  | { readonly kind: 'half-close'; readonly slot: number; readonly requestId: number }
  | { readonly kind: 'end'; readonly slot: number; readonly requestId: number; readonly status: number; readonly message: string };

/** What a thread posts to the reactor on its stream port. */
export type RelayFromThread =
  /** Its handler began: the stream's requests go to this port from now on. */
  | { readonly kind: 'open'; readonly slot: number; readonly requestId: number }
  /** Its handler consumed `bytes` of requests: the client is granted them. */
  | { readonly kind: 'consumed'; readonly slot: number; readonly requestId: number; readonly bytes: number };

/**
 * - `holding`: no thread runs the handler yet; requests wait here (within the window);
 * - `relaying`: requests go to the thread's stream port as they are read;
 * - `ended`: answered, cancelled or past its deadline: requests are dropped.
 */
export type RelayPhase = 'holding' | 'relaying' | 'ended';

/**
 * The reactor's side of the requests of a client- or bidirectional stream whose handler
 * runs on a worker or actor thread. It keeps the client's credit (the window, plus what
 * the thread reports consumed, minus what was read) and so enforces the window; each
 * MESSAGE body is copied out of the read chunk and posted to the thread's stream port
 * (a MessagePort of that thread, not the control plane) as it is read. Before the thread
 * opens the stream they are held here: at most the window plus one message. The thread
 * decodes them into a `RequestStream` and reports what its handler consumed; the reactor
 * then writes the CREDIT.
 */
export class RequestRelay implements RequestFeed {
  phase: RelayPhase = 'holding';
  private halfClosed = false;
  private credit: number;
  private held: RelayToThread[] = [];
  private port: MessagePort | undefined;

  constructor(
    private readonly slotOf: () => number,
    private readonly requestId: number,
    private readonly window: number,
    private readonly sink: StreamSink,
  ) {
    this.credit = window;
  }

  push(body: Uint8Array, compression: number, bytes: number): RpcError | undefined {
    if (this.phase === 'ended') return undefined;
    const fault = messageFault(this.halfClosed, this.credit, this.window);
    if (fault !== undefined) return fault;
    this.credit -= bytes;
    // A copy of its own: the frame's body is a view of the read chunk, and the copy's buffer is transferred.
    const copy = new Uint8Array(body);
    this.send({ kind: 'message', slot: this.slotOf(), requestId: this.requestId, body: copy, compression, bytes }, copy);
    return undefined;
  }

  halfClose(): RpcError | undefined {
    if (this.phase === 'ended') return undefined;
    const fault = halfCloseFault(this.halfClosed);
    if (fault !== undefined) return fault;
    this.halfClosed = true;
    this.send({ kind: 'half-close', slot: this.slotOf(), requestId: this.requestId });
    return undefined;
  }

  /** The thread opened the stream on `port`: what was held goes there, in order, and all that follows. */
  attach(port: MessagePort): void {
    if (this.phase !== 'holding') return;
    this.phase = 'relaying';
    this.port = port;
    const slot = this.slotOf(); // the call had no slot when they were held
    for (const m of this.held.splice(0)) {
      const message = { ...m, slot };
      port.postMessage(message, message.kind === 'message' ? [message.body.buffer as ArrayBuffer] : []);
    }
  }

  /** The thread's handler consumed `bytes`: the client may send them again. */
  consumed(bytes: number): void {
    if (this.phase === 'ended' || this.halfClosed) return;
    this.credit += bytes;
    this.sink.grant(bytes);
  }

  /** The stream ended (`reason`, or the status it was answered with): the thread's reads reject, nothing more goes. */
  end(reason: RpcError | number): void {
    if (this.phase === 'ended') return;
    const port = this.port;
    this.phase = 'ended';
    this.held = [];
    this.port = undefined;
    const status = typeof reason === 'number' ? (reason === Status.OK ? Status.CANCELLED : reason) : reason.code;
    const message = typeof reason === 'number' ? 'the stream ended' : reason.rawMessage;
    port?.postMessage({ kind: 'end', slot: this.slotOf(), requestId: this.requestId, status, message } satisfies RelayToThread);
  }

  private send(message: RelayToThread, copy?: Uint8Array): void {
    if (this.port === undefined) this.held.push(message);
    else this.port.postMessage(message, copy === undefined ? [] : [copy.buffer as ArrayBuffer]);
  }
}
