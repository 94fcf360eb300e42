import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { Compression } from '../protocol/constants.js';
import type { CallStream, StreamLimits, StreamSink } from '../pipeline/stream-pipeline.js';
import { RequestRelay } from './request-relay.js';

/**
 * - `taken`: the call has no slot yet (queued behind interceptors): grants add up here;
 * - `attached`: its credit lives in the lane's shared memory, where its thread reads it;
 * - `ended`: answered, cancelled or past its deadline: grants and replies are dropped.
 */
export type ThreadStreamPhase = 'taken' | 'attached' | 'ended';

/**
 * The reactor's side of a server stream whose handler runs on a worker or actor thread.
 * The credit for its replies is one Int32 per slot in shared memory: the reactor adds each
 * CREDIT the client sends (and notifies the word), the thread takes what each MESSAGE
 * costs and, at none left, waits on the word (`Atomics.waitAsync`) until a grant, or an
 * abort of the call (worker-slots.ts notifies it too), wakes it. So a slow reader holds the
 * generator at its `yield`, with nothing buffered, and no thread polls.
 *
 * The replies come back through the thread's response ring as MESSAGE records
 * (stream-records.ts), which the lane hands to {@link message}. The requests of a client-
 * or bidirectional stream go to the thread through its {@link RequestRelay}.
 */
export class ThreadStream implements CallStream {
  /** The requests of a client- or bidirectional stream, relayed to its thread; undefined for a server stream. */
  readonly requests: RequestRelay | undefined;
  phase: ThreadStreamPhase = 'taken';
  /** The credit while `taken`. */
  private credit: number;
  private credits: Int32Array | undefined;
  /** The call's slot once it has one, else -1. */
  slot = -1;

  /** @param takesMessages the client sends requests on it (a client- or bidirectional stream) */
  constructor(
    private readonly sink: StreamSink,
    private readonly limits: StreamLimits,
    requestId: number,
    takesMessages: boolean,
  ) {
    this.credit = limits.sendWindow;
    this.requests = takesMessages ? new RequestRelay(() => this.slot, requestId, limits.receiveWindow, sink) : undefined;
  }

  /** The call took `slot`: its credit moves to `credits[slot]`, before its batch goes to a thread. */
  attach(credits: Int32Array, slot: number): void {
    if (this.phase !== 'taken') return; // ended, or a re-run after a worker's death: the word is set
    Atomics.store(credits, slot, this.credit);
    this.credits = credits;
    this.slot = slot;
    this.phase = 'attached';
  }

  grant(bytes: number): RpcError | undefined {
    if (this.phase === 'ended') return undefined;
    // The thread only ever lowers the word, so a check against what is read now is safe.
    const credit = this.credits === undefined ? this.credit : Atomics.load(this.credits, this.slot);
    if (credit + bytes > this.limits.maxCredit) {
      return new RpcError(Status.INTERNAL, `credit of ${bytes} bytes takes the stream's credit to ${credit + bytes}, over ${this.limits.maxCredit}`);
    }
    if (this.credits === undefined) {
      this.credit += bytes;
    } else {
      Atomics.add(this.credits, this.slot, bytes);
      Atomics.notify(this.credits, this.slot);
    }
    return undefined;
  }

  /** Bodies shorter than this are copied by the sink as it takes them (`StreamSink.copiesBelow`). */
  get copiesBelow(): number {
    return this.sink.copiesBelow;
  }

  /** Whether the client's credit is spent: the thread waits for a CREDIT before its next reply. */
  get creditSpent(): boolean {
    return (this.credits === undefined ? this.credit : Atomics.load(this.credits, this.slot)) <= 0;
  }

  /**
   * One reply from the thread; nothing once the stream ended. `body` may be the ring's view,
   * valid during this call only, when it is shorter than {@link copiesBelow}; else a copy.
   */
  message(body: Buffer, compression: Compression): void {
    if (this.phase !== 'ended') this.sink.message(body, compression);
  }

  end(reason: RpcError | number): void {
    this.phase = 'ended';
    this.credits = undefined; // the slot may be another call's soon
    this.requests?.end(reason);
  }
}
