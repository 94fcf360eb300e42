import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { decodeMeta } from '../protocol/meta.js';
import { IdTable } from '../util/id-table.js';
import type { ServerCall } from './server-call.js';

/**
 * The calls one connection has taken and not yet answered, and their books: each call is
 * settled once (the first of its answer, a cancel, or the connection's end), and every way
 * it ends goes through {@link book}, once: its method's counters (requests = ok + errors +
 * in flight), its latency, and the server's admission slot.
 *
 * A call that ends without an answer is counted under the status its handler's signal
 * aborts with: CANCELLED for a client's CANCEL, DEADLINE_EXCEEDED for a CANCEL sent because
 * the client's deadline passed, and, for a call abandoned with its connection, the status
 * the connection ended with (CANCELLED when the client went away, as gRPC servers report a
 * call whose client is gone; the GOAWAY's status after a fault; UNAVAILABLE at the end of
 * a shutdown's grace).
 */
export class CallTable {
  /** REQUESTs by request_id. */
  private readonly calls = new IdTable<ServerCall>('peer');
  /** ONEWAY calls still running (they have no usable id). */
  private readonly oneways = new Set<ServerCall>();
  /** Highest request_id read (refused ones too), sent as GOAWAY's `last_request_id`. */
  lastTaken = 0;

  /** @param release gives the call's server-wide admission slot back */
  constructor(private readonly release: () => void) {}

  /** Calls in flight. */
  get size(): number {
    return this.calls.size + this.oneways.size;
  }

  /** REQUESTs in flight (the per-connection limit counts these). */
  get requests(): number {
    return this.calls.size;
  }

  get(requestId: number): ServerCall | undefined {
    return this.calls.get(requestId);
  }

  add(call: ServerCall): void {
    if (call.oneway) this.oneways.add(call);
    else this.calls.set(call.requestId, call);
    call.route.stats.inflight++;
  }

  /**
   * Claims the right to answer `call` with `status` and books it (counters, latency, slot);
   * false when it had already ended, and nothing may be written for it.
   */
  settle(call: ServerCall, status: number): boolean {
    if (!call.finish(status)) return false;
    this.book(call, status);
    return true;
  }

  /**
   * A CANCEL frame for `requestId` (none in flight: nothing to do). Its Meta may say why:
   * `status` DEADLINE_EXCEEDED when the client's deadline passed, else it was cancelled;
   * a peer that says nothing gave up on its deadline if that has passed here too.
   */
  cancelFrame(requestId: number, meta: Uint8Array): void {
    const call = this.calls.get(requestId);
    if (call === undefined) return;
    const late = cancelStatus(meta) === Status.DEADLINE_EXCEEDED || Date.now() >= call.deadline;
    const site = `${call.service}/${call.method}`;
    this.cancel(
      call,
      late
        ? new RpcError(Status.DEADLINE_EXCEEDED, `${site} cancelled by the client: its deadline passed`)
        : new RpcError(Status.CANCELLED, `${site} cancelled by the client`),
    );
  }

  /** Ends `call` without an answer, counted as `reason.code`, and aborts its handler's signal. */
  cancel(call: ServerCall, reason: RpcError): void {
    if (call.ended) return;
    this.book(call, reason.code);
    call.abort(reason);
  }

  /** Ends every call without an answer (the connection is going), counted as `reason.code`. */
  abortAll(reason: RpcError): void {
    for (const call of [...this.calls.snapshot(), ...this.oneways]) this.cancel(call, reason);
  }

  /** The one place a call's end is counted: out of the table, into ok or errors, latency, slot back. */
  private book(call: ServerCall, status: number): void {
    if (call.oneway) {
      if (!this.oneways.delete(call)) return;
    } else if (this.calls.get(call.requestId) !== call || !this.calls.delete(call.requestId)) {
      return;
    }
    const stats = call.route.stats;
    stats.inflight--;
    if (status === Status.OK) stats.ok++;
    else stats.recordError(status);
    stats.recordLatency(call.startedAt);
    this.release();
  }
}

/** The status a CANCEL frame's Meta gives, if any (empty, or not a Meta: none). */
function cancelStatus(meta: Uint8Array): number | undefined {
  if (meta.length === 0) return undefined;
  try {
    return decodeMeta(meta).status;
  } catch {
    return undefined; // a CANCEL is honoured whatever its Meta; only the count's status is at stake
  }
}
