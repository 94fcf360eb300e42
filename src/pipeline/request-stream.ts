import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type protobuf from 'protobufjs';
import { Compression } from '../protocol/constants.js';
import { decompress } from '../protocol/compression.js';

/**
 * The request direction of a client- or bidirectional stream:
 * - `open`: messages may come;
 * - `half-closed`: the client sent its last; the iterator ends once the buffer is read;
 * - `done`: the stream ended (answered, cancelled, past its deadline); reads reject.
 */
export type RequestStreamState = 'open' | 'half-closed' | 'done';

/** One message read and not yet consumed: decoded, or still being decompressed (`ready`). */
interface Buffered {
  value: unknown;
  /** Pending while a gzipped body is decompressed and decoded off the reactor; it never rejects. */
  ready: Promise<void> | undefined;
  /** What it took of the sender's credit. */
  readonly bytes: number;
}

interface Waiter {
  resolve(result: IteratorResult<unknown>): void;
  reject(error: unknown): void;
}

/** How a {@link RequestStream} tells the sender and the call about itself. */
export interface RequestStreamHooks {
  /** Grants the sender `bytes` more of its messages (the handler consumed them). */
  grant(bytes: number): void;
  /** A message that does not decompress or decode: the stream ends with this error. */
  fail(error: RpcError): void;
}

/**
 * Where a connection hands the requests of a client- or bidirectional stream it reads: the
 * inline {@link RequestStream}, or a lane's relay to the thread that runs the handler.
 */
export interface RequestFeed {
  /** One message, `bytes` long as flow control counts it; the error that ends the stream when it breaks the rules. */
  push(body: Uint8Array, compression: number, bytes: number): RpcError | undefined;
  /** The sender's half-close; an error when it already half-closed. */
  halfClose(): RpcError | undefined;
}

/**
 * The spec's rules for a client's MESSAGE (§Streams, bad input), wherever its stream is
 * read: the error that ends the stream (one after the half-close, one beyond the credit),
 * or undefined. Shared by the reactor's {@link RequestStream} and the worker lane's relay.
 */
export function messageFault(halfClosed: boolean, credit: number, window: number): RpcError | undefined {
  if (halfClosed) return new RpcError(Status.INTERNAL, 'message after the half-close of the stream');
  if (credit <= 0) return new RpcError(Status.RESOURCE_EXHAUSTED, `message sent with no credit left: the stream's window of ${window} bytes was spent`);
  return undefined;
}

/** The error of a second HALF_CLOSE (§Streams, bad input), or undefined for the first. */
export function halfCloseFault(halfClosed: boolean): RpcError | undefined {
  return halfClosed ? new RpcError(Status.INTERNAL, 'second half-close of the stream') : undefined;
}

/**
 * The requests of a stream as the handler reads them (`for await (const r of requests)`),
 * fed by the wire in the order they were read. Flow control is counted here, in whatever
 * unit the wire counts a message (a ringrpc MESSAGE frame's bytes): the sender may send
 * while its credit is above 0, and credit goes back to it as the handler *consumes*
 * messages, once half the window was consumed since the last grant. So a handler that
 * does not read holds at most the window plus one message, and one that keeps up never
 * makes the sender wait a round trip.
 */
export class RequestStream implements AsyncIterableIterator<unknown>, RequestFeed {
  state: RequestStreamState = 'open';
  private readonly buffered: Buffered[] = [];
  private readonly waiters: Waiter[] = [];
  /** The sender's credit as this side counts it. */
  private credit: number;
  /** Consumed since the last grant. */
  private consumed = 0;
  /** Why reads fail once `done`. */
  private endReason: RpcError | undefined;
  /** The handler stopped reading (`break` out of its loop): later messages are dropped. */
  private abandoned = false;

  constructor(
    private readonly type: protobuf.Type,
    private readonly window: number,
    private readonly maxBytes: number,
    private readonly hooks: RequestStreamHooks,
  ) {
    this.credit = window;
  }

  /**
   * One message, `bytes` long as flow control counts it. Returns the error that ends the
   * stream when it breaks the rules (no credit left, after the half-close); a body that does
   * not decode ends it through `hooks.fail` (at once, or once a gzipped body is inflated).
   */
  push(body: Uint8Array, compression: number, bytes: number): RpcError | undefined {
    if (this.state === 'done') return undefined;
    const fault = messageFault(this.state === 'half-closed', this.credit, this.window);
    if (fault !== undefined) return fault;
    this.credit -= bytes;
    if (this.abandoned) return undefined;
    const entry: Buffered = { value: undefined, ready: undefined, bytes };
    if (compression === Compression.NONE) {
      const error = this.decode(entry, body);
      if (error !== undefined) return error;
    } else {
      // The frame's bytes are views of the read chunk: inflated now, off the reactor, in order.
      entry.ready = decompress(body, compression, this.maxBytes).then(
        (plain) => {
          entry.ready = undefined;
          const error = this.decode(entry, plain);
          if (error !== undefined) this.hooks.fail(error);
          else this.deliver();
        },
        (err: unknown) => {
          entry.ready = undefined;
          this.hooks.fail(new RpcError(Status.INVALID_ARGUMENT, `message does not decompress: ${(err as Error).message}`));
        },
      );
    }
    this.buffered.push(entry);
    this.deliver();
    return undefined;
  }

  /** The sender's half-close; an error when it already half-closed. */
  halfClose(): RpcError | undefined {
    if (this.state === 'done') return undefined;
    const fault = halfCloseFault(this.state === 'half-closed');
    if (fault !== undefined) return fault;
    this.state = 'half-closed';
    this.deliver();
    return undefined;
  }

  /** The stream ended: pending and later reads reject with `reason`, what is buffered is dropped. */
  end(reason: RpcError): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.endReason = reason;
    this.buffered.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.state === 'done') return Promise.reject(this.endReason);
    if (this.abandoned) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.deliver();
    });
  }

  /** The handler left its loop early: nothing more is read for it. */
  return(): Promise<IteratorResult<unknown>> {
    this.abandoned = true;
    this.buffered.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  private decode(entry: Buffered, body: Uint8Array): RpcError | undefined {
    try {
      entry.value = this.type.decode(body);
      return undefined;
    } catch (err) {
      return new RpcError(Status.INVALID_ARGUMENT, `message does not decode as ${this.type.fullName.slice(1)}: ${(err as Error).message}`);
    }
  }

  /** Hands ready messages to waiting reads, in order; the end of input once half-closed and read. */
  private deliver(): void {
    while (this.waiters.length > 0 && this.state !== 'done') {
      const head = this.buffered[0];
      if (head === undefined) {
        if (this.state !== 'half-closed') return;
        for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
        return;
      }
      if (head.ready !== undefined) return; // still inflating: the messages behind it wait their turn
      this.buffered.shift();
      this.consume(head.bytes);
      this.waiters.shift()!.resolve({ value: head.value, done: false });
    }
  }

  /** Credit back to the sender once half the window was consumed (none after its half-close: it sends no more). */
  private consume(bytes: number): void {
    this.consumed += bytes;
    if (this.state !== 'open' || this.consumed < this.window / 2) return;
    const grant = this.consumed;
    this.consumed = 0;
    this.credit += grant;
    this.hooks.grant(grant);
  }
}
