import { RpcError } from '../errors.js';
import { Status, statusName } from '../status.js';
import type { CallOutcome, ServerInterceptor } from '../pipeline/interceptor.js';

/** One call, as {@link accessLog} reports it when the call has ended. */
export interface AccessLogEntry {
  /** `package.Service/Method`. */
  readonly method: string;
  readonly protocol: string;
  /** The client, `host:port`. */
  readonly peer: string;
  /** The call's key, when it carried one. */
  readonly key?: string;
  /**
   * Who called: `identity.subject` (or `identity.sub`) when an interceptor inside this one
   * authenticated the caller, else the client certificate's CN under mutual TLS.
   */
  readonly subject?: string;
  /** How the call ended: its status code and name (`OK`, `DEADLINE_EXCEEDED`, …). */
  readonly status: number;
  readonly code: string;
  /** Why it failed, for a failure. */
  readonly message?: string;
  /** The lane the call was routed to. */
  readonly lane: string;
  /** From when the call was admitted on the reactor to when it ended, in ms (3 decimals). */
  readonly durationMs: number;
  /** Worker and actor lanes: the wait for a thread, and the handler's run, in ms (3 decimals), when a thread began it. */
  readonly queuedMs?: number;
  readonly runMs?: number;
}

/**
 * A server interceptor that reports every call it sees, once, when the call has ended
 * (answered, refused by an interceptor inside it, cancelled, or timed out), to `write`.
 * Put it first (outermost) so that it also sees the calls later interceptors refuse.
 * Library code never logs by itself: `write` decides where a line goes; `ringrpc serve`
 * logs one per call at debug level (`RINGRPC_LOG_LEVEL=debug`, JSON with
 * `RINGRPC_LOG_FORMAT=json`).
 */
export function accessLog(write: (entry: AccessLogEntry) => void): ServerInterceptor {
  if (typeof write !== 'function') throw new RpcError(Status.INVALID_ARGUMENT, 'accessLog needs a function to write each entry to');
  return async (call, next) => {
    const started = performance.now();
    const report = (outcome: CallOutcome): void => {
      const { status, message, queuedMs, runMs } = outcome;
      const subject = subjectOf(call.identity) ?? call.peer.certificate?.subject['CN'];
      const entry: AccessLogEntry = {
        method: `${call.service}/${call.method}`,
        protocol: call.protocol,
        peer: `${call.peer.address}:${call.peer.port}`,
        ...(call.key === '' ? {} : { key: call.key }),
        ...(subject === undefined ? {} : { subject }),
        status,
        code: statusName(status),
        ...(message === undefined || message === '' ? {} : { message }),
        lane: outcome.lane ?? call.lane,
        durationMs: ms(performance.now() - started),
        ...(queuedMs === undefined ? {} : { queuedMs: ms(queuedMs) }),
        ...(runMs === undefined ? {} : { runMs: ms(runMs) }),
      };
      try {
        write(entry);
      } catch {
        // A failing log sink must not fail the call it logs.
      }
    };
    try {
      const outcome = await next();
      report(outcome);
      return outcome;
    } catch (err) {
      const error = RpcError.from(err, Status.UNKNOWN);
      report({ status: error.code, message: error.message });
      throw err;
    }
  };
}

const ms = (x: number): number => Math.round(x * 1000) / 1000;

function subjectOf(identity: unknown): string | undefined {
  if (typeof identity !== 'object' || identity === null) return typeof identity === 'string' ? identity : undefined;
  const { subject, sub } = identity as { subject?: unknown; sub?: unknown };
  if (typeof subject === 'string') return subject;
  return typeof sub === 'string' ? sub : undefined;
}
