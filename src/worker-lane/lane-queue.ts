import type { ServerCall } from '../server/server-call.js';
import { encodedPeer, REPLIES_PLAIN, type PendingEntry } from './batch-codec.js';

/** A request of the worker lane, from its admission until its batch is settled. */
export interface QueuedEntry extends PendingEntry {
  readonly call: ServerCall;
  /** Admission order on the lane: re-runs after a crash go back in this order. */
  readonly seq: number;
  /** Times handed to a worker: a re-run (its worker died before taking it up) is the second. */
  handOffs: number;
  /** True while it waits in the reactor's queue. */
  queued: boolean;
}

/** A call taken into a pooled lane's `slot`, `seq`-th in its admission order, ready to queue; `meta` and `body` are uncopied. */
export function queuedEntry(call: ServerCall, slot: number, seq: number, methodIndex: number, meta: Uint8Array, body: Uint8Array): QueuedEntry {
  return {
    call,
    slot,
    seq,
    requestId: call.requestId,
    methodIndex,
    compression: call.meta.compression | (call.plainReplies ? REPLIES_PLAIN : 0),
    deadline: call.deadline,
    meta,
    body,
    peer: encodedPeer(call.peer, call.identity, call.protocol),
    handOffs: 0,
    queued: true,
  };
}

/**
 * The worker lane's queue on the reactor: requests admitted (each holds a slot) and not
 * yet packed into a batch. A call answered or cancelled while it waits here (its
 * `callTimeoutMs` passed, say) has no worker to hear of it, so its slot is freed at once
 * (`free`), not when a busy pool gets to it; it is skipped when its turn comes.
 */
export class LaneQueue {
  private entries: QueuedEntry[] = [];
  /** Entries still waiting: those ended while queued are left out (they stay in `entries` until their turn). */
  private waiting = 0;

  /** @param free frees a slot whose call ended while queued */
  constructor(private readonly free: (slot: number) => void) {}

  /** Entries waiting (not those whose call ended while queued). */
  get length(): number {
    return this.waiting;
  }

  /** Queues `entry` at the tail; an abort of its call while queued frees its slot. */
  push(entry: QueuedEntry): void {
    const setCancelFlag = entry.call.onAbort; // the slot's shared cancel flag
    entry.call.onAbort = () => {
      setCancelFlag?.();
      if (!entry.queued) return;
      entry.queued = false;
      this.waiting--;
      this.free(entry.slot);
    };
    entry.queued = true;
    this.waiting++;
    this.entries.push(entry);
  }

  /** Puts entries back at the head, in their order (their worker died before taking them up). */
  requeue(entries: readonly QueuedEntry[]): void {
    for (const entry of entries) entry.queued = true;
    this.waiting += entries.length;
    this.entries.unshift(...entries);
  }

  /** Takes up to `count` entries from the head, leaving out those whose call ended while queued. */
  take(count: number): QueuedEntry[] {
    const taken: QueuedEntry[] = [];
    let at = 0;
    while (at < this.entries.length && taken.length < count) {
      const entry = this.entries[at++]!;
      if (!entry.queued) continue; // its call ended while queued: its slot is already free
      entry.queued = false;
      taken.push(entry);
    }
    this.waiting -= taken.length;
    // With none waiting, only ended entries are left: they go too.
    if (this.waiting === 0) this.entries = [];
    else this.entries.splice(0, at);
    return taken;
  }

  /** Empties the queue; returns the entries still waiting (the lane is closing). */
  clear(): QueuedEntry[] {
    return this.take(this.waiting);
  }
}
