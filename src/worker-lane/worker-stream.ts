import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression } from '../protocol/constants.js';
import { compressSync, decompressSync } from '../protocol/compression.js';
import { messageCost } from '../protocol/meta.js';
import { decodeRequest, handlerError, settle, stillWanted, undecodable, type PipelineSettings } from '../pipeline/call-pipeline.js';
import { encodeMessage } from '../codec/message-writer.js';
import { closeIterator, iteratorOf, turn, YIELD_AFTER_BYTES } from '../pipeline/stream-pipeline.js';
import { REQUEST_COMPRESSION } from './batch-codec.js';
import type { WorkerCall } from './worker-call.js';
import { RECORD_MESSAGE, RECORD_MESSAGE_GZIP, type StreamRecordWriter } from './stream-records.js';
import type { ThreadRequests } from './thread-requests.js';

/**
 * The longest a stream waits on its credit word without looking again. Grants and aborts
 * notify it, so this only bounds what a missed wake-up (a bug) could cost.
 */
const CREDIT_WAIT_MS = 5000;
const EMPTY = new Uint8Array(0);
/** Streams pumping replies on this thread (each thread has its own instance of this module). */
let pumping = 0;

/** What a thread gives the streams it runs. */
export interface WorkerStreamContext {
  /** Per slot, the client's credit for replies (thread-stream.ts). */
  readonly credits: Int32Array;
  readonly records: StreamRecordWriter;
  /** The requests of client- and bidirectional streams, from the reactor (thread-requests.ts). */
  readonly requests: ThreadRequests;
  readonly settings: PipelineSettings;
  /** Marks the thread as inside `slot`'s handler for the overrun watchdog; -1: out of it. */
  mark(slot: number): void;
}

/**
 * Runs a streaming call in a worker or actor thread. A server stream's request is decoded
 * from the call's opening; a client- or bidirectional stream's handler gets the stream of
 * its requests instead (thread-requests.ts), and a client stream's reply is what its
 * handler resolves with, answered as a unary call's. Replies of the other two: call the
 * handler, then pull its generator while the client has credit, writing each reply into
 * the ring as a MESSAGE record as it is produced. At no credit it waits on the call's
 * credit word; when the call ends elsewhere (CANCEL, deadline, a bad CREDIT, shutdown:
 * the cancel flag) its signal aborts, the generator is closed (`return()`, so its `finally`
 * runs) and an empty record frees the slot. The stream ends with one final record, as a
 * unary call does: RESPONSE OK with the trailing metadata when the generator returns, its
 * status when it throws.
 *
 * Returns once the final record is in the ring (it never rejects). Its synchronous part
 * (decode, the handler's call, the first pull) runs before it returns, so the call is
 * marked begun by then.
 */
export async function runWorkerStream(call: WorkerCall, context: WorkerStreamContext): Promise<void> {
  try {
    const result = start(call, context);
    if (call.definition.kind === 'client_stream') {
      if (result !== undefined) await reply(call, result, context.settings);
    } else {
      const replies = result === undefined ? undefined : iteratorOf(result.value);
      if (result !== undefined && replies === undefined) {
        call.replyError(
          new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} did not return an async iterable (an async generator) of replies`),
        );
      }
      if (replies !== undefined) await pump(call, replies, context);
    }
  } catch (err) {
    // A bug (the steps above answer every failure): this stream fails, the thread goes on.
    if (!call.ended) call.replyError(new RpcError(Status.INTERNAL, `worker failed on stream ${call.entry.requestId}: ${(err as Error).message}`));
    else stop(call);
  }
  context.requests.close(call, new RpcError(Status.CANCELLED, `${call.service}/${call.method}: the stream ended`));
  await context.records.flushed();
}

/** A client stream's one reply: what its handler resolves with (the call ended meanwhile: no answer owed). */
async function reply(call: WorkerCall, result: { readonly value: unknown }, settings: PipelineSettings): Promise<void> {
  let value: unknown;
  try {
    value = await result.value;
  } catch (err) {
    return call.ended ? stop(call) : call.replyError(handlerError(err));
  }
  if (call.ended) return stop(call);
  await settle(call, value, settings);
}

/** The handler's input: the decoded request of a server stream, the stream of requests of the others; undefined when answered instead. */
function input(call: WorkerCall, context: WorkerStreamContext): { readonly value: unknown } | undefined {
  const { entry } = call;
  const settings = context.settings;
  if (call.definition.kind !== 'server_stream') {
    if (entry.body.length === 0) return { value: undefined }; // the requests are opened once the handler is sure to run
    call.replyError(new RpcError(Status.INVALID_ARGUMENT, `${call.service}/${call.method} streams its requests: the call's opening carries none`));
    return undefined;
  }
  let bytes: Uint8Array = entry.body;
  const compression = entry.compression & REQUEST_COMPRESSION;
  if (compression !== Compression.NONE) {
    try {
      bytes = decompressSync(bytes, compression, settings.maxFrameBytes);
    } catch (err) {
      call.replyError(undecodable(call, err));
      return undefined;
    }
  }
  const request = decodeRequest(call, bytes);
  return request === undefined ? undefined : { value: request };
}

/** Calls the handler: its result (a promise, or replies), or undefined when the call was answered instead. */
function start(call: WorkerCall, context: WorkerStreamContext): { readonly value: unknown } | undefined {
  if (!stillWanted(call)) return undefined;
  const request = input(call, context);
  if (request === undefined) return undefined;
  if (!call.begin()) {
    call.drop();
    return undefined;
  }
  try {
    const value = call.definition.kind === 'server_stream' ? request.value : context.requests.requestsOf(call);
    return { value: call.handler(value, call) };
  } catch (err) {
    call.replyError(handlerError(err));
    return undefined;
  }
}

/** Pulls replies while there is credit and writes them; the end of the generator ends the stream. */
async function pump(call: WorkerCall, replies: AsyncIterator<unknown>, context: WorkerStreamContext): Promise<void> {
  const { credits, records, settings } = context;
  const slot = call.entry.slot;
  const gzipAbove = call.plainReplies ? Infinity : settings.compressAboveBytes;
  const type = call.definition.responseType;
  let completed = false; // the generator returned or threw: nothing to close
  let sinceTurn = 0;
  // A stream alone on its thread also urges as its credit falls under half the client's
  // window: its client grants more once it has read half a window (ours does), and no other
  // stream of the thread fills the pipe meanwhile. Streams sharing a thread do not: their
  // lingers, cut short by every crossing, would cost more writes than the wait they save.
  // Once it urged, it urges again only after its credit was back over three quarters: a
  // client granting message by message (gRPC) keeps it near the half, where every reply
  // would cross it.
  const window = Atomics.load(credits, slot);
  let urgeAtHalf = true;
  pumping++;
  try {
    for (;;) {
      if (call.ended) return stop(call);
      const credit = Atomics.load(credits, slot);
      if (credit <= 0) {
        // Its client grants more as it reads: the replies written so far go now, rather
        // than after the reactor's linger (lane-pacing.ts), which this wait would only add to.
        records.urge();
        // Registered before the cancel flag is read again: an abort flags, then notifies, so
        // it either wakes this wait or is seen here.
        const wait = Atomics.waitAsync(credits, slot, credit, CREDIT_WAIT_MS);
        if (wait.async && !call.ended) {
          sinceTurn = 0; // a real wait: the thread's event loop turns meanwhile
          await wait.value;
        }
        continue;
      }
      if (sinceTurn >= YIELD_AFTER_BYTES) {
        // The thread's batches and control messages come as tasks: a flowing stream lets them in.
        sinceTurn = 0;
        await turn();
        continue;
      }
      let step: IteratorResult<unknown>;
      try {
        let next: Promise<IteratorResult<unknown>>;
        context.mark(slot); // the generator's synchronous run until its next await or yield
        try {
          next = replies.next();
        } finally {
          context.mark(-1);
        }
        step = await next;
      } catch (err) {
        completed = true;
        return call.ended ? stop(call) : call.replyError(handlerError(err));
      }
      if (step.done === true) {
        completed = true;
        return call.ended ? stop(call) : call.replyOk(EMPTY, Compression.NONE);
      }
      if (call.ended) return stop(call);
      const value = step.value;
      const problem = value === null || typeof value !== 'object' ? 'it is not an object' : type.verify(value as Record<string, unknown>);
      if (problem) {
        return call.replyError(
          new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} yielded a reply that is not a ${type.fullName.slice(1)}: ${problem}`),
        );
      }
      // A view of the thread's shared writer under gzipAbove: the ring copies it at once, or it is copied to wait.
      let body: Uint8Array = encodeMessage(type, value as Record<string, unknown>, gzipAbove);
      let gzip = false;
      if (body.length >= gzipAbove) {
        body = compressSync(body);
        gzip = true;
      }
      const cost = messageCost(body.length, gzip ? Compression.GZIP : Compression.NONE);
      const before = Atomics.sub(credits, slot, cost);
      const status = gzip ? RECORD_MESSAGE_GZIP : RECORD_MESSAGE;
      if (!records.tryWrite(slot, status, [body])) await records.write(slot, status, [gzip ? body : new Uint8Array(body)]);
      if (before - cost < window / 2) {
        if (urgeAtHalf && pumping === 1 && before >= window / 2) records.urge();
        urgeAtHalf = false;
      } else if (before - cost > (window * 3) / 4) {
        urgeAtHalf = true;
      }
      sinceTurn += body.length;
    }
  } catch (err) {
    // An encoding that threw (a reply verify() let through): the handler's fault, as for unary.
    if (call.ended) stop(call);
    else call.replyError(new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
  } finally {
    pumping--;
    if (!completed) closeIterator(replies);
  }
}

/** The call ended on the reactor (which answered it, or owes nothing): abort the signal, free the slot. */
function stop(call: WorkerCall): void {
  call.check(Date.now());
  call.drop();
}
