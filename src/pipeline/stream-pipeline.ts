import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression } from '../protocol/constants.js';
import { compress, decompress } from '../protocol/compression.js';
import { encodeMessage } from '../codec/message-writer.js';
import { decodeRequest, handlerError, settle, stillWanted, undecodable, type PipelineCall, type PipelineSettings } from './call-pipeline.js';
import { RequestStream, type RequestFeed } from './request-stream.js';

/**
 * Where a stream's replies and credit grants go: the wire. A ringrpc connection writes
 * them as MESSAGE and CREDIT frames; the runner knows nothing of frames.
 */
export interface StreamSink {
  /** Sends one encoded reply (gzipped when `compression` says so); returns what it took of the sender's credit. */
  message(body: Uint8Array, compression: Compression): number;
  /** Replies shorter than this are copied before {@link message} returns (see `PipelineCall.copiesRepliesBelow`). */
  readonly copiesBelow: number;
  /** Grants the client `bytes` more of its messages (its handler consumed them). */
  grant(bytes: number): void;
}

/**
 * A stream's state as the connection that took it sees it: where the client's CREDITs,
 * MESSAGEs and HALF_CLOSE go, and how the call tells it that it ended. The inline lane's
 * is a {@link PipelineStream}; a lane that runs the handler on another thread keeps its own.
 */
export interface CallStream {
  /** Where the requests of a client- or bidirectional stream go; undefined for a server stream. */
  readonly requests: RequestFeed | undefined;
  /** The client granted `bytes` more; an error when that takes its credit past the maximum. */
  grant(bytes: number): RpcError | undefined;
  /** The call ended (`reason`, or the status it ended with); called by the call, however it ended. */
  end(reason: RpcError | number): void;
}

/** A call that streams: a pipeline call that can also be ended by its client's bad input. */
export interface StreamingCall extends PipelineCall {
  /** Ends the call with `error` and aborts its handler's signal. */
  fail(error: RpcError): void;
}

/** A stream's windows and limits, as its wire sets them. */
export interface StreamLimits {
  /** The client's initial credit for its messages (the wire's default). */
  readonly receiveWindow: number;
  /** This side's initial credit for its replies (the client's window). */
  readonly sendWindow: number;
  /** The most credit a sender may hold; a grant past it is an error. */
  readonly maxCredit: number;
  /** Cap on a decompressed message. */
  readonly maxBytes: number;
}

/**
 * - `taken`: the call was taken; requests that come are buffered (within the window);
 * - `running`: its handler runs;
 * - `ended`: answered, cancelled, past its deadline or abandoned: nothing more is written.
 */
export type StreamPhase = 'taken' | 'running' | 'ended';

const EMPTY = new Uint8Array(0);
/**
 * Bytes of replies a pump writes before it lets the event loop turn. Its awaits chain
 * microtasks only, which nothing else interleaves with: without a turn, a stream with a
 * large window would hold the reactor (every other connection, and this stream's own
 * CREDITs) until its credit ran out, and its writes would leave in one burst at the end.
 * A worker's pump turns as often, for the batches and control messages of its thread.
 */
export const YIELD_AFTER_BYTES = 16 * 1024;
/** Resolves after the event loop's next turn (its I/O and timers included). */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs a streaming call on the thread that reads its connection (the inline lane), for
 * any wire: server streaming (one request, a generator of replies), client streaming (a
 * {@link RequestStream} of requests, one reply) and bidirectional (both).
 *
 * Replies are pulled from the handler's generator one at a time and only while the
 * client has credit: at none, the pump awaits a grant before it calls `next()` again, so a
 * slow reader holds the generator at its `yield` (no busy wait, nothing buffered beyond
 * the reply being written). The stream ends once: the generator returns (OK, trailing
 * metadata = `ctx.responseMetadata`), throws (its status), or the call ends otherwise
 * ({@link end}), whereupon the generator is closed (`return()`, running its `finally`),
 * reads of the requests reject, and nothing more is written.
 */
export class PipelineStream implements CallStream {
  phase: StreamPhase = 'taken';
  /** The requests of a client- or bidirectional stream; undefined for a server stream. */
  readonly requests: RequestStream | undefined;
  /** The credit for replies: the client's window, plus its grants, minus what was sent. */
  private credit: number;
  /** Wakes the pump waiting for credit (or for the end). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: StreamingCall,
    private readonly sink: StreamSink,
    private readonly limits: StreamLimits,
  ) {
    this.credit = limits.sendWindow;
    const { kind, requestType } = call.definition;
    this.requests =
      kind === 'client_stream' || kind === 'bidi_stream'
        ? new RequestStream(requestType, limits.receiveWindow, limits.maxBytes, {
            grant: (bytes) => {
              if (this.phase !== 'ended') sink.grant(bytes);
            },
            fail: (error) => call.fail(error),
          })
        : undefined;
  }

  /** Whether the client sends messages on this stream (client streaming, bidirectional). */
  get takesMessages(): boolean {
    return this.requests !== undefined;
  }

  /** Whether the client grants credit on this stream (server streaming, bidirectional). */
  get sendsMessages(): boolean {
    return this.call.definition.kind !== 'client_stream';
  }

  /** The client granted `bytes` more; an error when that takes its credit past the maximum. */
  grant(bytes: number): RpcError | undefined {
    if (this.phase === 'ended' || !this.sendsMessages) return undefined;
    if (this.credit + bytes > this.limits.maxCredit) {
      return new RpcError(Status.INTERNAL, `credit of ${bytes} bytes takes the stream's credit to ${this.credit + bytes}, over ${this.limits.maxCredit}`);
    }
    this.credit += bytes;
    if (this.credit > 0) this.resume();
    return undefined;
  }

  /**
   * The call ended (`reason`, or the status it ended with): reads of the requests reject,
   * the pump stops and closes the generator. Called by the call itself, whichever way it ended.
   */
  end(reason: RpcError | number): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    if (this.requests !== undefined) {
      // Ended by an answer (the status only): a read still pending learns the status, CANCELLED for an OK one.
      const site = `${this.call.service}/${this.call.method}`;
      const code = (status: number): Status => (status === Status.OK ? Status.CANCELLED : (status as Status));
      this.requests.end(typeof reason === 'number' ? new RpcError(code(reason), `${site}: the stream ended`) : reason);
    }
    this.resume();
  }

  /** The call reached its lane: `body` (`compression`) is the request of a server stream, empty for the others. */
  start(body: Uint8Array, compression: number, settings: PipelineSettings): void {
    const call = this.call;
    if (this.requests !== undefined) {
      if (body.length > 0) {
        call.replyError(new RpcError(Status.INVALID_ARGUMENT, `${call.service}/${call.method} streams its requests: the call's opening carries none`));
      } else {
        this.run(this.requests, settings);
      }
      return;
    }
    if (compression === Compression.NONE) return this.decode(body, settings);
    if (!stillWanted(call)) return;
    decompress(body, compression, this.limits.maxBytes).then(
      (plain) => this.decode(plain, settings),
      (err: unknown) => call.replyError(undecodable(call, err)),
    );
  }

  private decode(bytes: Uint8Array, settings: PipelineSettings): void {
    const request = decodeRequest(this.call, bytes);
    if (request !== undefined) this.run(request, settings);
  }

  /** Runs the handler on `input` (the request, or the stream of them). */
  private run(input: unknown, settings: PipelineSettings): void {
    const call = this.call;
    if (!stillWanted(call)) return;
    if (!call.begin()) {
      call.drop();
      return;
    }
    this.phase = 'running';
    let result: unknown;
    try {
      result = call.handler(input, call);
    } catch (err) {
      call.replyError(handlerError(err));
      return;
    }
    if (!this.sendsMessages) {
      Promise.resolve(result).then(
        (value) => settle(call, value, settings),
        (err: unknown) => call.replyError(handlerError(err)),
      );
      return;
    }
    const replies = iteratorOf(result);
    if (replies === undefined) {
      call.replyError(
        new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} did not return an async iterable (an async generator) of replies`),
      );
      return;
    }
    void this.pump(replies, settings);
  }

  /** Pulls replies while there is credit and writes them; the end of the generator ends the stream. */
  private async pump(replies: AsyncIterator<unknown>, settings: PipelineSettings): Promise<void> {
    const call = this.call;
    const type = call.definition.responseType;
    let completed = false; // the generator returned or threw: nothing to close
    let sinceTurn = 0;
    try {
      while (!this.ended) {
        if (this.credit <= 0) {
          sinceTurn = 0;
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        if (sinceTurn >= YIELD_AFTER_BYTES) {
          sinceTurn = 0;
          await turn();
          continue;
        }
        let step: IteratorResult<unknown>;
        try {
          step = await replies.next();
        } catch (err) {
          completed = true;
          if (!this.ended) call.replyError(handlerError(err));
          return;
        }
        if (step.done === true) {
          completed = true;
          if (!this.ended) call.replyOk(EMPTY, Compression.NONE);
          return;
        }
        if (this.ended) return;
        const value = step.value;
        const problem = value === null || typeof value !== 'object' ? 'it is not an object' : type.verify(value as Record<string, unknown>);
        if (problem) {
          call.replyError(
            new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} yielded a reply that is not a ${type.fullName.slice(1)}: ${problem}`),
          );
          return;
        }
        const borrowBelow = Math.min(this.sink.copiesBelow, this.call.plainReplies ? Infinity : settings.compressAboveBytes);
        let body: Uint8Array = encodeMessage(type, value as Record<string, unknown>, borrowBelow);
        let compression: Compression = Compression.NONE;
        if (body.length >= settings.compressAboveBytes && !this.call.plainReplies) {
          // zlib runs on libuv's pool, not the reactor; a gzip that fails costs the size, not the reply.
          const zipped = await compress(body).catch(() => undefined);
          if (this.ended) return;
          if (zipped !== undefined) {
            body = zipped;
            compression = Compression.GZIP;
          }
        }
        const sent = this.sink.message(body, compression);
        this.credit -= sent;
        sinceTurn += sent;
      }
    } catch (err) {
      // An encoding that threw (a reply verify() let through): the handler's fault, as for unary.
      if (!this.ended) call.replyError(new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
    } finally {
      if (!completed) closeIterator(replies);
    }
  }

  /** Read through a getter: the phase changes while the pump awaits, which narrowing cannot see. */
  private get ended(): boolean {
    return this.phase === 'ended';
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** The async iterator of a handler's result, if it is an async iterable. */
export function iteratorOf(result: unknown): AsyncIterator<unknown> | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const open = (result as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  return typeof open === 'function' ? open.call(result) : undefined;
}

/** Closes a generator the stream no longer pulls: its `finally` runs; what it throws there goes nowhere. */
export function closeIterator(replies: AsyncIterator<unknown>): void {
  try {
    const closing = replies.return?.();
    if (closing !== undefined) Promise.resolve(closing).catch(() => {});
  } catch {
    // a return() that throws: the stream is over either way
  }
}
