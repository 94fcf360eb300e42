import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { compress } from '../protocol/compression.js';
import { Compression } from '../protocol/constants.js';
import type { StreamCall } from './stream-call.js';
import type { RequestSource } from './stub-types.js';

/** The iterator of a request source; INVALID_ARGUMENT when it is neither iterable nor async iterable. */
export function requestIterator(source: RequestSource<unknown>): AsyncIterator<unknown> | Iterator<unknown> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null | undefined;
  const asyncIterator = s?.[Symbol.asyncIterator];
  if (typeof asyncIterator === 'function') return asyncIterator.call(s);
  const iterator = s?.[Symbol.iterator];
  if (typeof iterator === 'function' && typeof s === 'object') return iterator.call(s);
  throw new RpcError(Status.INVALID_ARGUMENT, 'requests must be an iterable (an array) or an async iterable of request messages');
}

/**
 * Sends the requests of a client or bidirectional stream as MESSAGEs (spec §Streams):
 * pulls the next one only while the stream holds credit, and waits for the server's
 * CREDIT otherwise (no polling); half-closes after the last. A request of at least
 * `gzipAboveBytes` goes gzipped (off the thread, in order: the next is not pulled before).
 * A source that throws, or a
 * request that does not encode (`encode` throws INVALID_ARGUMENT), cancels the stream
 * with that error (CANCEL to the server), after the replies received before it. When the
 * stream ends first (the server answered early, a deadline, a cancel), the source is
 * closed (`return()`), so that a generator's `finally` runs.
 */
export async function pumpRequests(
  stream: StreamCall,
  iterator: AsyncIterator<unknown> | Iterator<unknown>,
  encode: (request: unknown) => Uint8Array,
  gzipAboveBytes = Infinity,
): Promise<void> {
  let sourceDone = false;
  try {
    for (;;) {
      if (!stream.hasCredit) {
        await stream.creditOrEnd();
        if (!stream.sending) return;
        continue;
      }
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (err) {
        sourceDone = true;
        stream.abandon(RpcError.from(err, Status.CANCELLED, stream.site()));
        return;
      }
      if (step.done) {
        sourceDone = true;
        stream.halfClose();
        return;
      }
      if (!stream.sending) return;
      let body: Uint8Array;
      try {
        body = encode(step.value);
      } catch (err) {
        stream.abandon(RpcError.from(err, Status.INVALID_ARGUMENT, stream.site()));
        return;
      }
      let compression: Compression = Compression.NONE;
      if (body.length >= gzipAboveBytes) {
        try {
          body = await compress(body);
          compression = Compression.GZIP;
        } catch {} // zlib failing to gzip is no reason to fail the call: it goes plain
        if (!stream.sending) return;
      }
      stream.send(body, compression);
    }
  } finally {
    if (!sourceDone) closeSource(iterator);
  }
}

/** Closes a source the stream no longer reads; what its `return()` throws or rejects with is of no use to anyone. */
function closeSource(iterator: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    const closing = iterator.return?.();
    if (closing instanceof Promise) closing.catch(() => {});
  } catch {}
}
