import * as v from '../util/validate.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/constants.js';
import { DEFAULT_COMPRESSION_THRESHOLD_BYTES } from '../protocol/compression.js';

/** Options of `createClient`. Every field is optional; defaults are in {@link CLIENT_DEFAULTS}. */
export interface ClientOptions {
  /** Default deadline of a call, in ms; a call's own `timeoutMs` overrides it. Default 3000. */
  timeoutMs?: number;
  /** Time to establish a TCP connection before its calls fail UNAVAILABLE, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Cap on a received frame's `meta_len + body_len`, in bytes. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Calls in flight on one connection; beyond it the call fails RESOURCE_EXHAUSTED at once. Default 32768. */
  maxConcurrentRequestsPerConnection?: number;
  /** Compression of request bodies: `"gzip"` above the threshold, or `"none"`. Default `"none"`. */
  compression?: 'none' | 'gzip';
  /** Bodies at least this large are compressed when `compression` is `"gzip"`. Default 1024. */
  compressionThresholdBytes?: number;
}

/** The defaults of {@link ClientOptions}, in one place. */
export const CLIENT_DEFAULTS: Readonly<Required<ClientOptions>> = Object.freeze({
  timeoutMs: 3000,
  connectTimeoutMs: 5000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxConcurrentRequestsPerConnection: 32_768,
  compression: 'none',
  compressionThresholdBytes: DEFAULT_COMPRESSION_THRESHOLD_BYTES,
});

export type ResolvedClientOptions = Readonly<Required<ClientOptions>>;

/** Validates `options` once, with messages naming the field, and fills defaults. */
export function resolveClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  v.knownKeys(options, Object.keys(CLIENT_DEFAULTS));
  const o = { ...CLIENT_DEFAULTS, ...v.stripUndefined(options) };
  v.positiveInteger('timeoutMs', o.timeoutMs);
  v.positiveInteger('connectTimeoutMs', o.connectTimeoutMs);
  v.positiveInteger('maxFrameBytes', o.maxFrameBytes);
  v.positiveInteger('maxConcurrentRequestsPerConnection', o.maxConcurrentRequestsPerConnection);
  v.oneOf('compression', o.compression, ['none', 'gzip'] as const);
  v.nonNegativeInteger('compressionThresholdBytes', o.compressionThresholdBytes);
  return Object.freeze(o);
}

/** Per-call options of a stub method. */
export interface CallOptions {
  /** Deadline of this call in ms (0: none). Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Aborting it cancels the call: it rejects CANCELLED and a CANCEL frame tells the server. */
  signal?: AbortSignal;
  /** Application metadata sent with the request. */
  metadata?: Record<string, string>;
  /** Receives the metadata the server sent with a successful reply (errors carry it in `RpcError.metadata`). */
  onMetadata?: (metadata: Readonly<Record<string, string>>) => void;
}

/** Validates per-call options (they are user input too). */
export function checkCallOptions(options: CallOptions): void {
  if (options.timeoutMs !== undefined) v.nonNegativeInteger('timeoutMs', options.timeoutMs);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw v.invalid('signal', 'an AbortSignal', options.signal);
  if (options.onMetadata !== undefined && typeof options.onMetadata !== 'function') throw v.invalid('onMetadata', 'a function', options.onMetadata);
  if (options.metadata !== undefined) {
    if (options.metadata === null || typeof options.metadata !== 'object') throw v.invalid('metadata', 'an object of strings', options.metadata);
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') throw v.invalid(`metadata.${key}`, 'a string', value);
    }
  }
}
