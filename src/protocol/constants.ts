/** "RR": the first two bytes of every frame (spec §Frame). */
export const MAGIC = 0x5252;
/** The protocol version this implementation speaks. */
export const VERSION = 1;
/** Bytes of the fixed frame header. */
export const HEADER_BYTES = 16;
/** Default cap on `meta_len + body_len` (and on a decompressed body): 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Default cap on `meta_len` (spec §bad input): 64 KiB. Meta is decoded on the reactor
 * before a request is routed, so its size bounds that work; application metadata is
 * headers, not payload.
 */
export const DEFAULT_MAX_META_BYTES = 64 * 1024;
/** The largest request_id; a client opens a new connection before reaching it. */
/** Longest routing key (`Meta.key`) in UTF-8 bytes (spec §Keys). */
export const MAX_KEY_BYTES = 256;
/** Longest key, in UTF-16 code units, that is surely within {@link MAX_KEY_BYTES} (3 bytes per unit at most). */
export const SURELY_SHORT_KEY_UNITS = Math.floor(MAX_KEY_BYTES / 3);
export const MAX_REQUEST_ID = 0xffff_ffff;

/**
 * ringrpc's ALPN protocol identifier under TLS: a client offers it, and a server that also
 * serves gRPC (ALPN `h2`) on the port tells the two apart by it.
 */
export const RINGRPC_ALPN = 'ringrpc/1';

/** Frame types 1..10 (spec §Types; 8–10 carry streams, §Streams). */
export const FrameType = {
  REQUEST: 1,
  RESPONSE: 2,
  PING: 3,
  PONG: 4,
  ONEWAY: 5,
  GOAWAY: 6,
  CANCEL: 7,
  MESSAGE: 8,
  HALF_CLOSE: 9,
  CREDIT: 10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const TYPE_NAMES = ['', 'REQUEST', 'RESPONSE', 'PING', 'PONG', 'ONEWAY', 'GOAWAY', 'CANCEL', 'MESSAGE', 'HALF_CLOSE', 'CREDIT'] as const;

/** A stream's initial window in each direction when the REQUEST names none (spec §Streams): 64 KiB. */
export const DEFAULT_STREAM_WINDOW = 65_536;
/** The most credit a stream's sender may hold (spec §Streams). */
export const MAX_STREAM_CREDIT = 0x7fff_ffff;

/** The spec's name of a frame type, for messages. */
export function frameTypeName(type: number): string {
  return TYPE_NAMES[type] || `type ${type}`;
}

/** `Meta.compression` values (spec §Meta). */
export const Compression = { NONE: 0, GZIP: 1 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/**
 * Metadata keys that start with this are ringrpc's own: a server writes them from its
 * transport and admission layers only, never from what a handler sets or throws, so a
 * handler that relays another service's answer cannot relay its marks.
 */
export const RESERVED_METADATA_PREFIX = 'ringrpc-';

/**
 * Metadata key a ringrpc server sets (value `"1"`) on an error it gave before any handler
 * saw the request: admission limits, a full worker queue, a queue dropped at shutdown.
 * Such a call is safe to send again, idempotent or not. Peers that do not know the key
 * ignore it, as they ignore any metadata.
 */
export const NOT_RUN_METADATA_KEY = 'ringrpc-not-run';
