import { Status } from '../status.js';
import type { RpcError } from '../errors.js';
import { HEADER_BYTES } from '../protocol/constants.js';
import { decodeMeta } from '../protocol/meta.js';
import type { CallOutcome, Lane } from '../pipeline/interceptor.js';
import type { ServerCall } from './server-call.js';

/**
 * The outcome of an intercepted call, as its interceptors' `next()` resolves with it. The
 * message is read only if asked for: a worker's failure is a whole RESPONSE frame, whose
 * Meta would otherwise be decoded for every failed call whether anyone looks or not.
 */
class InterceptedOutcome implements CallOutcome {
  readonly queuedMs: number | undefined;
  readonly runMs: number | undefined;
  readonly beganAt: number | undefined;
  private readMessage: string | undefined;

  constructor(
    readonly status: number,
    readonly lane: Lane,
    private readonly failure: RpcError | Buffer | undefined,
    submittedAt: number,
    beganAt: number,
    endedAt: number,
  ) {
    // A thread began the handler only after the hand-over; a call that never reached a lane has no times.
    const timed = beganAt > 0 && submittedAt > 0;
    this.queuedMs = timed ? Math.max(0, beganAt - submittedAt) : undefined;
    this.runMs = timed ? Math.max(0, endedAt - beganAt) : undefined;
    this.beganAt = timed ? beganAt : undefined;
  }

  get message(): string {
    this.readMessage ??= this.status === Status.OK ? '' : failureMessage(this.failure);
    return this.readMessage;
  }
}

/** The outcome of `call`, ended with `status`; `submittedAt` is when it went to its lane (`performance.now()`, 0: it never did). */
export function callOutcome(call: ServerCall, status: number, lane: Lane, submittedAt: number): CallOutcome {
  return new InterceptedOutcome(status, lane, call.failure, submittedAt, call.threadBeganAt, call.threadEndedAt);
}

function failureMessage(failure: RpcError | Buffer | undefined): string {
  if (failure === undefined) return '';
  if (!Buffer.isBuffer(failure)) return failure.rawMessage;
  try {
    // A RESPONSE frame: the 16-byte header, whose bytes 8..11 give the Meta's length, then the Meta.
    return decodeMeta(failure.subarray(HEADER_BYTES, HEADER_BYTES + failure.readUInt32BE(8))).message;
  } catch {
    return ''; // the worker built it, so it decodes; if not, the status still stands
  }
}
