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
  /** With `loadBalancer: "consistent_hash"`: the key that picks the instance (a user id, a shard key, …). */
  hashKey?: string;
}

/** Validates per-call options (they are user input too). */
export function checkCallOptions(options: CallOptions): void {
  if (options.timeoutMs !== undefined) v.nonNegativeMs('timeoutMs', options.timeoutMs);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw v.invalid('signal', 'an AbortSignal', options.signal);
  if (options.hashKey !== undefined && typeof options.hashKey !== 'string') throw v.invalid('hashKey', 'a string', options.hashKey);
  if (options.onMetadata !== undefined && typeof options.onMetadata !== 'function') throw v.invalid('onMetadata', 'a function', options.onMetadata);
  if (options.metadata !== undefined) {
    if (options.metadata === null || typeof options.metadata !== 'object') throw v.invalid('metadata', 'an object of strings', options.metadata);
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') throw v.invalid(`metadata.${key}`, 'a string', value);
    }
  }
}
