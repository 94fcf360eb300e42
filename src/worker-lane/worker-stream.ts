import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression, HEADER_BYTES } from '../protocol/constants.js';
import { compressSync, decompressSync } from '../protocol/compression.js';
import { encodeMeta } from '../protocol/meta.js';
import { handlerError, stillWanted, undecodable, type PipelineSettings } from '../pipeline/call-pipeline.js';
import { closeIterator, iteratorOf } from '../pipeline/stream-pipeline.js';
import type { WorkerCall } from './worker-call.js';
import { RECORD_MESSAGE, RECORD_MESSAGE_GZIP, type StreamRecordWriter } from './stream-records.js';

/** What a gzipped MESSAGE's Meta adds to its frame, as flow control counts it (server-stream.ts sends the same). */
const GZIP_META_BYTES = encodeMeta({ compression: Compression.GZIP }).length;
/**
 * The longest a stream waits on its credit word without looking again. Grants and aborts
 * notify it, so this only bounds what a missed wake-up (a bug) could cost.
 */
const CREDIT_WAIT_MS = 5000;
const EMPTY = new Uint8Array(0);

/** What a thread gives the streams it runs. */
export interface WorkerStreamContext {
  /** Per slot, the client's credit for replies (thread-stream.ts). */
  readonly credits: Int32Array;
  readonly records: StreamRecordWriter;
  readonly settings: PipelineSettings;
  /** Marks the thread as inside `slot`'s handler for the overrun watchdog; -1: out of it. */
  mark(slot: number): void;
}

/**
 * Runs a server-streaming call in a worker or actor thread: decode the request, call the
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
export async function runServerStream(call: WorkerCall, context: WorkerStreamContext): Promise<void> {
  try {
    const replies = start(call, context.settings);
    if (replies !== undefined) await pump(call, replies, context);
  } catch (err) {
    // A bug (the steps above answer every failure): this stream fails, the thread goes on.
    if (!call.ended) call.replyError(new RpcError(Status.INTERNAL, `worker failed on stream ${call.entry.requestId}: ${(err as Error).message}`));
    else stop(call);
  }
  await context.records.flushed();
}

/** Decodes the request and calls the handler: its replies, or undefined when the call was answered instead. */
function start(call: WorkerCall, settings: PipelineSettings): AsyncIterator<unknown> | undefined {
  if (!stillWanted(call)) return undefined;
  const { entry } = call;
  let bytes: Uint8Array = entry.body;
  if (entry.compression !== Compression.NONE) {
    try {
      bytes = decompressSync(bytes, entry.compression, settings.maxFrameBytes);
    } catch (err) {
      call.replyError(undecodable(call, err));
      return undefined;
    }
  }
  const type = call.definition.requestType;
  let request: unknown;
  try {
    request = type.decode(bytes);
  } catch (err) {
    call.replyError(new RpcError(call.undecodableStatus, `request body does not decode as ${type.fullName.slice(1)}: ${(err as Error).message}`));
    return undefined;
  }
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
  const replies = iteratorOf(result);
  if (replies === undefined) {
    call.replyError(
      new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} did not return an async iterable (an async generator) of replies`),
    );
  }
  return replies;
}

/** Pulls replies while there is credit and writes them; the end of the generator ends the stream. */
async function pump(call: WorkerCall, replies: AsyncIterator<unknown>, context: WorkerStreamContext): Promise<void> {
  const { credits, records, settings } = context;
  const slot = call.entry.slot;
  const type = call.definition.responseType;
  let completed = false; // the generator returned or threw: nothing to close
  try {
    for (;;) {
      if (call.ended) return stop(call);
      const credit = Atomics.load(credits, slot);
      if (credit <= 0) {
        // Registered before the cancel flag is read again: an abort flags, then notifies, so
        // it either wakes this wait or is seen here.
        const wait = Atomics.waitAsync(credits, slot, credit, CREDIT_WAIT_MS);
        if (wait.async && !call.ended) await wait.value;
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
      let body: Uint8Array = type.encode(value as Record<string, unknown>).finish();
      let gzip = false;
      if (body.length >= settings.compressAboveBytes) {
        body = compressSync(body);
        gzip = true;
      }
      Atomics.sub(credits, slot, HEADER_BYTES + (gzip ? GZIP_META_BYTES : 0) + body.length);
      await records.write(slot, gzip ? RECORD_MESSAGE_GZIP : RECORD_MESSAGE, [body]);
    }
  } catch (err) {
    // An encoding that threw (a reply verify() let through): the handler's fault, as for unary.
    if (call.ended) stop(call);
    else call.replyError(new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
  } finally {
    if (!completed) closeIterator(replies);
  }
}

/** The call ended on the reactor (which answered it, or owes nothing): abort the signal, free the slot. */
function stop(call: WorkerCall): void {
  call.check(Date.now());
  call.drop();
}
