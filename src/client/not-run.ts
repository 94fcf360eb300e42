import type { RpcError } from '../errors.js';
import { NOT_RUN_METADATA_KEY } from '../protocol/constants.js';

/**
 * Why a failed call is known not to have reached a handler (so sending it again cannot
 * run it twice):
 * - `unsent`: it never left this process (no connection, endpoint in backoff, connect failed);
 * - `goaway`: the server's GOAWAY put it above `last_request_id`;
 * - `refused`: the server answered it from admission, before any handler (its
 *   error carries the `ringrpc-not-run` metadata).
 */
export type NotRunReason = 'unsent' | 'goaway' | 'refused';

const marks = new WeakMap<RpcError, NotRunReason>();

/** Records that `error`'s call never ran; returns the error. */
export function markNotRun(error: RpcError, reason: NotRunReason): RpcError {
  marks.set(error, reason);
  return error;
}

/** Why `error`'s call is known not to have run, or undefined when it may have. */
export function notRunReason(error: RpcError): NotRunReason | undefined {
  const mark = marks.get(error);
  if (mark !== undefined) return mark;
  return error.metadata[NOT_RUN_METADATA_KEY] === '1' ? 'refused' : undefined;
}
