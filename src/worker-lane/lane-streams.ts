import type { MessagePort } from 'node:worker_threads';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression } from '../protocol/constants.js';
import type { StreamLimits, StreamSink } from '../pipeline/stream-pipeline.js';
import type { ServerCall } from '../server/server-call.js';
import { RECORD_MESSAGE_GZIP, RECORD_PIECE, RecordPieces } from './stream-records.js';
import { FLOW_WINDOW_MS } from './lane-pacing.js';
import type { RelayFromThread } from './request-relay.js';
import { ThreadStream } from './thread-stream.js';
import type { WorkerSlots } from './worker-slots.js';

/**
 * The server streams a pooled lane has in flight, by slot. A stream holds its slot from its
 * admission to its final record, like a unary call, but on the worker lane it outlives the
 * batch that carried it: so a finished batch must not take its slot for unanswered, a
 * thread's exit must fail the streams it was running, and the lane's pacing must not count
 * a long stream as load. Its MESSAGE records go to its connection as they are drained.
 * The requests of client- and bidirectional streams travel on each thread's stream port
 * (request-relay.ts), which this follows too.
 */
export class LaneStreams {
  private readonly slots = new Set<number>();
  /** Each thread's stream port (its requests' data path). */
  private readonly ports = new Set<MessagePort>();
  /** Pieces of records too large for a ring (stream-records.ts), final ones included. */
  readonly pieces = new RecordPieces();
  /** Replies handed to live streams since {@link countingSince}. */
  private delivered = 0;
  /** `delivered` at the last {@link recentReplies}: what came before this drain. */
  private counted = 0;
  /** When the count began (performance.now() ms). */
  private countingSince = 0;
  /** Whether a stream had spent its credit as its reply was drained, since the last {@link recentReplies}. */
  private starved = false;

  constructor(private readonly table: WorkerSlots<ServerCall>) {}

  /** Streams in flight. */
  get size(): number {
    return this.slots.size;
  }

  /** The stream state of a call of this lane (what `openStream` returns). */
  open(call: ServerCall, sink: StreamSink, limits: StreamLimits): ThreadStream {
    const kind = call.definition.kind;
    return new ThreadStream(sink, limits, call.requestId, kind === 'client_stream' || kind === 'bidi_stream');
  }

  /** Takes a pool message; true when it was a thread's stream port, which is then followed. */
  accept(message: unknown): boolean {
    const port = (message as { ringrpcStreams?: MessagePort } | null)?.ringrpcStreams;
    if (port === undefined) return false;
    this.ports.add(port);
    port.on('message', (m: RelayFromThread) => this.fromThread(port, m));
    port.once('close', () => this.ports.delete(port)); // its thread exited
    port.unref(); // the pool's threads keep the process alive, not their ports
    return true;
  }

  /** Closes the stream ports (the lane closed). */
  close(): void {
    for (const port of this.ports) port.close();
    this.ports.clear();
  }

  /** A stream's call took `slot`: its credit moves into shared memory, before its batch is sent. */
  admit(call: ServerCall, slot: number): void {
    if (!(call.stream instanceof ThreadStream)) return;
    call.stream.attach(this.table.credits, slot);
    this.slots.add(slot);
  }

  /** A stream's slot was freed. */
  released(slot: number): void {
    this.slots.delete(slot);
    this.pieces.forget(slot);
  }

  /** True for a stream a thread began, which runs on whether or not its batch has ended. */
  runsOn(slot: number): boolean {
    return this.slots.has(slot) && this.table.hasStarted(slot);
  }

  /**
   * After thread `threadId` exited (what it published delivered): the streams it began, each
   * with the error it fails with, UNAVAILABLE as a unary call that died with its thread; none
   * for one answered already (its deadline, the watchdog) or cancelled: its slot is just freed.
   */
  orphansOf(threadId: number): Array<{ readonly slot: number; readonly error: RpcError | undefined }> {
    return [...this.slots]
      .filter((slot) => this.table.startedBy(slot) === threadId)
      .map((slot) => {
        const call = this.table.get(slot)!;
        const site = `${call.service}/${call.method}`;
        return { slot, error: call.ended ? undefined : new RpcError(Status.UNAVAILABLE, `the worker thread running ${site} died mid-stream`) };
      });
  }

  /** A thread opened a stream (its requests go to `port` now), or its handler consumed some of them. */
  private fromThread(port: MessagePort, message: RelayFromThread): void {
    const call = this.table.get(message.slot);
    // A message that crossed its stream's end (the slot may be another call's by now).
    if (call === undefined || call.requestId !== message.requestId || !(call.stream instanceof ThreadStream)) return;
    const relay = call.stream.requests;
    if (relay === undefined) return;
    if (message.kind === 'open') relay.attach(port);
    else relay.consumed(message.bytes);
  }

  /**
   * Replies delivered lately, for the lane's pacing (`LaneLoad.streamReplies`), read after
   * each drain: those of the drains within {@link FLOW_WINDOW_MS} of the first counted, or,
   * once that is past, those of this drain, which begins the next count. So replies that
   * trickle in over many small drains count as flowing when they come fast (a producer
   * slowed by the reactor's own wake-ups drains a few at a time), and not when they come a
   * few a millisecond. 0, and the count starts over, when lingering could only stall a
   * stream: one had spent its credit (its client grants more once it reads these replies),
   * or `ringFull` (a producer waited for room in its ring, which the next drain frees).
   */
  recentReplies(ringFull: boolean, now: number): number {
    const thisDrain = this.delivered - this.counted;
    if (this.starved || ringFull) {
      this.starved = false;
      this.delivered = this.counted = 0;
      this.countingSince = now;
      return 0;
    }
    if (now - this.countingSince > FLOW_WINDOW_MS) {
      this.delivered = thisDrain;
      this.countingSince = now;
    }
    this.counted = this.delivered;
    return this.delivered;
  }

  /** A record that does not end its call: a piece kept, or a reply written to the call's connection. */
  record(slot: number, status: number, frame: Buffer): void {
    if (status === RECORD_PIECE) return this.pieces.add(slot, frame);
    const whole = this.pieces.join(slot, frame);
    const call = this.table.get(slot);
    if (call === undefined || call.ended || !(call.stream instanceof ThreadStream)) return;
    this.delivered++;
    if (call.stream.creditSpent) this.starved = true;
    // Out of the ring before its space is reused: a joined record is a copy already, and a
    // sink copies a short body as it takes it; anything else is copied here.
    const body = whole !== frame || frame.length < call.stream.copiesBelow ? whole : Buffer.from(frame);
    try {
      call.stream.message(body, status === RECORD_MESSAGE_GZIP ? Compression.GZIP : Compression.NONE);
    } catch (err) {
      // A reply its connection cannot write fails that call, never the drain of every other.
      call.fail(new RpcError(Status.INTERNAL, `a reply of ${call.service}/${call.method} could not be written: ${(err as Error).message}`));
    }
  }
}
