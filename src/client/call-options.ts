import { MAX_KEY_BYTES, MAX_STREAM_CREDIT } from '../protocol/constants.js';
import * as v from '../util/validate.js';

/** Per-call options of a stub method. */
export interface CallOptions {
  /** Deadline of this call in ms, across all of its attempts (0: none). Default: the method's or the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Aborting it cancels the call: it rejects CANCELLED and a CANCEL frame tells the server. */
  signal?: AbortSignal;
  /** Application metadata sent with the request. */
  metadata?: Record<string, string>;
  /** Receives the metadata the server sent with a successful reply (errors carry it in `RpcError.metadata`). */
  onMetadata?: (metadata: Readonly<Record<string, string>>) => void;
  /**
   * The call's key (a user id, an account, a room; at most 256 bytes of UTF-8), sent as
   * `Meta.key`. The server's actor lane runs the calls of one key one at a time against
   * that key's state; the `consistent_hash` balancer sends one key to one instance.
   */
  key?: string;
}

/** Validates per-call options (they are user input too). */
export function checkCallOptions(options: CallOptions): void {
  if (options.timeoutMs !== undefined) v.nonNegativeMs('timeoutMs', options.timeoutMs);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw v.invalid('signal', 'an AbortSignal', options.signal);
  if (options.key !== undefined) checkKey(options.key);
  if (options.onMetadata !== undefined && typeof options.onMetadata !== 'function') throw v.invalid('onMetadata', 'a function', options.onMetadata);
  if (options.metadata !== undefined) {
    if (options.metadata === null || typeof options.metadata !== 'object') throw v.invalid('metadata', 'an object of strings', options.metadata);
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') throw v.invalid(`metadata.${key}`, 'a string', value);
    }
  }
}

/** A call's key: a string of at most {@link MAX_KEY_BYTES} bytes of UTF-8 (spec §Keys). */
function checkKey(key: unknown): void {
  if (typeof key !== 'string') throw v.invalid('key', 'a string', key);
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_KEY_BYTES) throw v.invalid('key', `at most ${MAX_KEY_BYTES} bytes of UTF-8`, `${bytes} bytes`);
}

/** A stream's window (`streamWindowBytes`, a call's `window`): an integer from 1 to 2^31 − 1 (spec §Streams: no credit above it). */
export function checkStreamWindow(name: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_STREAM_CREDIT) {
    throw v.invalid(name, `an integer from 1 to ${MAX_STREAM_CREDIT}`, value);
  }
  return value as number;
}
