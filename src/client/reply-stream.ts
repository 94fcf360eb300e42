import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { StreamCall } from './stream-call.js';
import type { ReplyStream } from './stub-types.js';

/**
 * - `fresh`: not iterated yet;
 * - `iterating`: handed out by `[Symbol.asyncIterator]()`;
 * - `closed`: the end was read, or the iteration left early (`return()`): `next()` is done.
 */
type ReaderState = 'fresh' | 'iterating' | 'closed';

/**
 * The reader of a server or bidirectional stream's replies: the {@link ReplyStream} a stub
 * returns, and its own async iterator (it may be iterated once). `next()` takes the next
 * reply from its {@link StreamCall} — which grants the server credit as replies are read —
 * or waits for one; the stream's end comes after the replies before it, as `done` for OK
 * and as a rejection with the stream's `RpcError` otherwise. Leaving the loop early
 * (`return()`) and `cancel()` cancel the stream.
 */
export class ReplyReader implements ReplyStream<unknown>, AsyncIterator<unknown> {
  private state: ReaderState = 'fresh';
  private waiter: { resolve(result: IteratorResult<unknown>): void; reject(error: RpcError): void } | undefined;
  private stream: StreamCall | undefined;

  /** Connects the reader to its stream (made after it: the stream tells the reader when a reply is ready). */
  attach(stream: StreamCall): void {
    this.stream = stream;
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.state !== 'fresh') throw new RpcError(Status.FAILED_PRECONDITION, 'a reply stream can be iterated only once', this.stream?.site());
    this.state = 'iterating';
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.state === 'closed') return Promise.resolve({ done: true, value: undefined });
    if (this.waiter !== undefined) {
      return Promise.reject(new RpcError(Status.FAILED_PRECONDITION, 'next() called before the previous next() settled', this.stream!.site()));
    }
    const poll = this.stream!.poll();
    if (poll.kind === 'reply') return Promise.resolve({ done: false, value: poll.reply });
    if (poll.kind === 'end') {
      this.state = 'closed';
      return poll.end.ok ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(poll.end.error);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Leaving a `for await` early: the stream is cancelled (CANCEL to the server), unless it had ended. */
  return(): Promise<IteratorResult<unknown>> {
    this.state = 'closed';
    this.cancel();
    return Promise.resolve({ done: true, value: undefined });
  }

  cancel(): void {
    const stream = this.stream!;
    stream.cancel(new RpcError(Status.CANCELLED, 'stream cancelled by the caller', stream.site()));
  }

  /** @internal A reply may be ready, or the stream ended: hands it to a waiting `next()`. */
  readable(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    const poll = this.stream!.poll();
    if (poll.kind === 'wait') return;
    this.waiter = undefined;
    if (poll.kind === 'reply') return waiter.resolve({ done: false, value: poll.reply });
    this.state = 'closed';
    if (poll.end.ok) waiter.resolve({ done: true, value: undefined });
    else waiter.reject(poll.end.error);
  }
}
