import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { decompress } from '../protocol/compression.js';
import type { ServerCall } from './server-call.js';

/** What the inline lane needs from the connection that took the call. */
export interface Responder {
  /** Answers OK with an encoded reply body. */
  replyOk(call: ServerCall, body: Uint8Array): void;
  /** Answers with an error status (or reports it, for ONEWAY). */
  replyError(call: ServerCall, error: RpcError): void;
  /** Answers with a whole RESPONSE frame built elsewhere (a worker); `status` is for the counters. */
  replyFrame(call: ServerCall, status: number, frame: Buffer): void;
}

/**
 * Runs a call on the main thread: decompress if needed, check the deadline, decode,
 * run the handler, encode. Each failure maps to the spec's status: a body that does not
 * decode is INVALID_ARGUMENT, a handler's throw UNKNOWN (or its own status).
 */
export function runInline(call: ServerCall, body: Uint8Array, responder: Responder, maxBytes: number): void {
  if (call.meta.compression !== 0) {
    decompress(body, call.meta.compression, maxBytes).then(
      (plain) => start(call, plain, responder),
      (err: unknown) => responder.replyError(call, RpcError.from(err, Status.INVALID_ARGUMENT)),
    );
    return;
  }
  start(call, body, responder);
}

function start(call: ServerCall, bytes: Uint8Array, responder: Responder): void {
  if (call.state !== 'pending') return; // cancelled while its body was decompressed
  if (call.expired()) {
    responder.replyError(call, new RpcError(Status.DEADLINE_EXCEEDED, `${call.service}/${call.method} not started: ${call.deadlineName} passed first`));
    return;
  }
  const method = call.route.method;
  let request: unknown;
  try {
    request = method.requestType.decode(bytes);
  } catch (err) {
    responder.replyError(call, new RpcError(Status.INVALID_ARGUMENT, `request body does not decode as ${method.requestType.fullName.slice(1)}: ${(err as Error).message}`));
    return;
  }
  call.state = 'running';
  let result: unknown;
  try {
    result = call.route.handler(request, call);
  } catch (err) {
    responder.replyError(call, RpcError.from(err));
    return;
  }
  if (result instanceof Promise) {
    result.then(
      (value) => reply(call, value, responder),
      (err: unknown) => responder.replyError(call, RpcError.from(err)),
    );
  } else {
    reply(call, result, responder);
  }
}

const EMPTY = new Uint8Array(0);

function reply(call: ServerCall, value: unknown, responder: Responder): void {
  if (call.state === 'done') return; // cancelled while its handler ran: no answer owed
  if (call.oneway) {
    // Nothing is sent, but the call ends the same way: admission released, counted.
    responder.replyOk(call, EMPTY);
    return;
  }
  const type = call.route.method.responseType;
  const problem = value === null || typeof value !== 'object' ? 'it is not an object' : type.verify(value as Record<string, unknown>);
  if (problem) {
    responder.replyError(call, new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} returned a reply that is not a ${type.fullName.slice(1)}: ${problem}`));
    return;
  }
  let body: Uint8Array;
  try {
    body = type.encode(value as Record<string, unknown>).finish();
  } catch (err) {
    responder.replyError(call, new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
    return;
  }
  responder.replyOk(call, body);
}
