import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition } from '../codec/service-definition.js';
import { Compression } from '../protocol/constants.js';
import { bodyLength } from '../protocol/frame.js';
import { compress, compressSync, decompress, decompressSync } from '../protocol/compression.js';
import { encodeSplit } from '../codec/split-encode.js';
import { encodeMessage } from '../codec/message-writer.js';
import { CallContext, type Handler } from './handler-context.js';

/**
 * A call as the pipeline runs it, on any lane: the handler's context, plus what the
 * pipeline needs to know of the call and how it answers. Each lane (and each protocol)
 * subclasses it once: the reactor's `ServerCall` answers through its connection, a
 * worker thread's call through its response ring.
 */
export abstract class PipelineCall extends CallContext {
  abstract readonly definition: MethodDefinition;
  abstract readonly handler: Handler;
  /** ONEWAY: run, but the reply is neither checked nor encoded. */
  get oneway(): boolean {
    return false;
  }
  /**
   * The caller takes no compressed reply (a gRPC client that did not list gzip): its replies
   * go plain on every lane, whatever the server's `compression`.
   */
  plainReplies = false;
  /** True once no answer is owed (cancelled, its connection gone): the pipeline stops. */
  abstract get ended(): boolean;
  /** How messages name the deadline: its own, or a server limit that stood in for it. */
  get deadlineName(): string {
    return 'its deadline';
  }
  /**
   * The status of a request body that does not decompress or decode: INVALID_ARGUMENT (spec
   * §bad input), or INTERNAL for a gRPC call, as gRPC servers answer it (grpc-go, grpc-js).
   */
  get undecodableStatus(): Status {
    return this.protocol === 'grpc' ? Status.INTERNAL : Status.INVALID_ARGUMENT;
  }
  /** Where a call waited before it ran, for the message of one whose deadline passed there. */
  get waitedIn(): string {
    return '';
  }
  /**
   * The handler is about to run; false when the call ended just now and it must not. (A
   * worker marks the call begun, then looks at its cancel flag: the reactor flags first and
   * looks at the mark second, so one of them always sees the other.)
   */
  begin(): boolean {
    return true;
  }
  /** The call ended before it was answered; nothing is sent. */
  drop(): void {}
  /**
   * Replies shorter than this are copied before {@link replyOk} returns (a ringrpc
   * connection copies small frames into its batch), so they may be handed over as a view
   * of the encoder's buffer, which the thread's next encoding reuses. 0 (the default): the
   * call keeps what it is given (an HTTP/2 write, a ring that is full), so it gets a buffer
   * of its own.
   */
  get copiesRepliesBelow(): number {
    return 0;
  }
  /** Answers OK: the encoded reply, gzipped when `compression` says so. */
  abstract replyOk(body: Uint8Array, compression: Compression): void;
  /**
   * Answers OK with a reply encoded in pieces (see `encodeSplit`), uncompressed. A call
   * that cannot send pieces as they are joins them (the pipeline splits a reply only for a
   * lane whose settings ask for it).
   */
  replyOkPieces(pieces: readonly Uint8Array[]): void {
    this.replyOk(Buffer.concat(pieces), Compression.NONE);
  }
  /** Answers with an error status (the handler's response metadata goes with it). */
  abstract replyError(error: RpcError): void;
}

/** How a lane runs the pipeline. */
export interface PipelineSettings {
  /** Cap on a decompressed request body (spec: it counts against the frame limit). */
  readonly maxFrameBytes: number;
  /** Reply bodies at least this long are gzipped; `Infinity`: never. */
  readonly compressAboveBytes: number;
  /**
   * `async` on the reactor, whose thread must not spend a gzip's time (zlib runs on libuv's
   * pool); `sync` in a worker thread, which is off the reactor already.
   */
  readonly zlib: 'async' | 'sync';
  /**
   * Top-level `bytes` fields of a reply at least this long go to `replyOkPieces` beside the
   * rest of the encoding instead of being copied into it (`encodeSplit`); unset: never. For
   * a lane that writes the reply from the same thread, so that the handler's buffer itself
   * reaches the socket.
   */
  readonly splitBytesAbove?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Runs one call: decompress (capped), check that it is still wanted and in time, decode,
 * run the handler, check and encode the reply, gzip it if large. Every way a call can end
 * maps to one answer: a body that does not decompress or decode is INVALID_ARGUMENT (INTERNAL under gRPC), a
 * deadline passed before the handler DEADLINE_EXCEEDED, a handler's throw its own status
 * (UNKNOWN for a plain Error), a reply that is not the method's message INTERNAL.
 *
 * Returns a promise only while something asynchronous is under way (a worker awaits it
 * to know when its batch is done); it never rejects.
 */
export function runCall(call: PipelineCall, body: Uint8Array, compression: number, settings: PipelineSettings): Promise<void> | undefined {
  if (compression === Compression.NONE) return start(call, body, settings);
  if (!stillWanted(call)) return undefined;
  if (settings.zlib === 'async') {
    return decompress(body, compression, settings.maxFrameBytes).then(
      (plain) => start(call, plain, settings),
      (err: unknown) => call.replyError(undecodable(call, err)),
    );
  }
  let plain: Uint8Array;
  try {
    plain = decompressSync(body, compression, settings.maxFrameBytes);
  } catch (err) {
    call.replyError(undecodable(call, err));
    return undefined;
  }
  return start(call, plain, settings);
}

/** A body that does not decompress, as the call answers it. */
export function undecodable(call: PipelineCall, err: unknown): RpcError {
  return new RpcError(call.undecodableStatus, (err as Error).message, { cause: err });
}

/** False (and the call answered or dropped) when it ended or its deadline passed before it ran. */
export function stillWanted(call: PipelineCall): boolean {
  if (call.ended) {
    call.drop();
    return false;
  }
  if (call.deadline !== Infinity && Date.now() >= call.deadline) {
    const site = `${call.service}/${call.method}`;
    call.replyError(new RpcError(Status.DEADLINE_EXCEEDED, `${site} not started: ${call.deadlineName} passed while it waited${call.waitedIn}`));
    return false;
  }
  return true;
}

/**
 * The request `bytes` decode to, or undefined (a decoded message never is) when they do not
 * decode as the method's request type: the call is then answered INVALID_ARGUMENT
 * (INTERNAL under gRPC), naming the type.
 */
export function decodeRequest(call: PipelineCall, bytes: Uint8Array): unknown {
  const type = call.definition.requestType;
  try {
    return type.decode(bytes);
  } catch (err) {
    call.replyError(new RpcError(call.undecodableStatus, `request body does not decode as ${type.fullName.slice(1)}: ${(err as Error).message}`));
    return undefined;
  }
}

function start(call: PipelineCall, bytes: Uint8Array, settings: PipelineSettings): Promise<void> | undefined {
  if (!stillWanted(call)) return undefined;
  const request = decodeRequest(call, bytes);
  if (request === undefined) return undefined;
  if (!call.begin()) {
    call.drop();
    return undefined;
  }
  let result: unknown;
  try {
    result = call.handler(request, call);
  } catch (err) {
    call.replyError(handlerError(err));
    return undefined;
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => settle(call, value, settings),
      (err: unknown) => call.replyError(handlerError(err)),
    );
  }
  return settle(call, result, settings);
}

/**
 * A handler's throw as the error it answers with. A handler ran, so the call is never
 * marked not run, even when it rethrows another call's error that was (a proxy relaying
 * a refusal): a caller that resent it would run this handler's side effects again.
 */
export function handlerError(err: unknown): RpcError {
  const error = RpcError.from(err);
  if (error.notRun === undefined) return error;
  return new RpcError(error.code, error.rawMessage, { metadata: error.metadata, cause: error });
}

/**
 * Answers with a handler's reply: checked against the method's reply type (INTERNAL if it
 * is not one), encoded, gzipped when large. A call that ended meanwhile is dropped.
 */
export function settle(call: PipelineCall, value: unknown, settings: PipelineSettings): Promise<void> | undefined {
  if (call.ended) {
    call.drop(); // cancelled while its handler ran: no answer owed, nothing to encode
    return undefined;
  }
  if (call.oneway) {
    call.replyOk(EMPTY, Compression.NONE); // nothing is sent, but the call ends the same way
    return undefined;
  }
  const type = call.definition.responseType;
  const problem = value === null || typeof value !== 'object' ? 'it is not an object' : type.verify(value as Record<string, unknown>);
  if (problem) {
    call.replyError(
      new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} returned a reply that is not a ${type.fullName.slice(1)}: ${problem}`),
    );
    return undefined;
  }
  const gzipAbove = call.plainReplies ? Infinity : settings.compressAboveBytes;
  // A reply the call copies at once, and that goes plain, may be a view of the encoder's buffer.
  const borrowBelow = Math.min(call.copiesRepliesBelow, gzipAbove);
  let encoded: Uint8Array | Uint8Array[];
  try {
    const split = settings.splitBytesAbove;
    const reply = value as Record<string, unknown>;
    encoded = split === undefined ? encodeMessage(type, reply, borrowBelow) : encodeSplit(type, reply, split, borrowBelow);
  } catch (err) {
    call.replyError(new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
    return undefined;
  }
  let body: Uint8Array;
  if (encoded instanceof Uint8Array) body = encoded;
  else if (bodyLength(encoded) < gzipAbove) {
    call.replyOkPieces(encoded);
    return undefined;
  } else body = Buffer.concat(encoded); // gzip takes one buffer: one copy, still one fewer than protobufjs's
  if (body.length < gzipAbove) {
    call.replyOk(body, Compression.NONE);
    return undefined;
  }
  if (settings.zlib === 'sync') {
    call.replyOk(compressSync(body), Compression.GZIP);
    return undefined;
  }
  // A gzip that fails (it does not, short of memory) costs the size, not the reply.
  return compress(body).then(
    (zipped) => call.replyOk(zipped, Compression.GZIP),
    () => call.replyOk(body, Compression.NONE),
  );
}
