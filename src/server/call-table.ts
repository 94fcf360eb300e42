import type { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ServerCall } from './server-call.js';

/**
 * The calls one connection has taken and not yet answered, and their books: each call is
 * settled once (the first of its answer, a cancel, or the connection's end), and its
 * method's counters and the server's admission slot follow it.
 */
export class CallTable {
  /** REQUESTs by request_id. */
  private readonly calls = new Map<number, ServerCall>();
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
    this.remove(call);
    if (status === Status.OK) call.route.stats.ok++;
    else call.route.stats.recordError(status);
    call.route.stats.recordLatency(call.startedAt);
    return true;
  }

  /** Ends `call` without an answer (CANCEL) and aborts its handler's signal. */
  cancel(call: ServerCall, reason: RpcError): void {
    this.remove(call);
    call.abort(reason);
  }

  /** Ends every call without an answer (the connection is going). */
  abortAll(reason: RpcError): void {
    for (const call of [...this.calls.values(), ...this.oneways]) this.cancel(call, reason);
  }

  private remove(call: ServerCall): void {
    if (call.oneway) {
      if (!this.oneways.delete(call)) return;
    } else if (this.calls.get(call.requestId) !== call || !this.calls.delete(call.requestId)) {
      return;
    }
    call.route.stats.inflight--;
    this.release();
  }
}
