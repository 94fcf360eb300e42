import { Status } from '../status.js';

/**
 * The bytes and headers of gRPC over HTTP/2 (the "gRPC over HTTP2" protocol document),
 * without any I/O: paths, timeouts, metadata, status messages, and length-prefixed
 * messages. The session (`grpc-session.ts`) does the HTTP/2 side.
 */

/** Content type of every gRPC response (and, with `+proto`, of the requests served). */
export const GRPC_CONTENT_TYPE = 'application/grpc';
/** The encodings this server reads and writes, as `grpc-accept-encoding` lists them. */
export const GRPC_ACCEPT_ENCODING = 'identity,gzip';
/** Request header whose value is the call's routing key (`Meta.key`), for the actor lane. */
export const KEY_HEADER = 'ringrpc-key';
/** Bytes of a message's prefix: the compressed flag and a 32-bit big-endian length. */
export const MESSAGE_PREFIX_BYTES = 5;

/** A fault in a gRPC request that ends the call with `status` (never the connection). */
export class GrpcFault extends Error {
  override readonly name = 'GrpcFault';
  constructor(
    readonly status: Status,
    message: string,
  ) {
    super(message);
  }
}

/** A request header's value, a repeated header's values joined with `,` (HTTP's list form). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** `/package.Service/Method` → its two parts; undefined when the path is not of that shape. */
export function parsePath(path: string | undefined): { service: string; method: string } | undefined {
  if (path === undefined || path.charCodeAt(0) !== 0x2f) return undefined;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) !== -1) return undefined;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * `grpc-timeout` (1 to 8 digits and a unit, `H M S m u n`) in whole ms, rounded up so that
 * a sub-millisecond timeout is not read as none; a GrpcFault (INTERNAL) when malformed.
 */
export function parseTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) throw new GrpcFault(Status.INTERNAL, `malformed grpc-timeout ${JSON.stringify(value)}`);
  return Math.max(1, Math.ceil(Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!));
}

/** Whether `grpc-accept-encoding` (a comma-separated list) names gzip. */
export function acceptsGzip(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const list = Array.isArray(value) ? value.join(',') : value;
  return list.split(',').some((e) => e.trim() === 'gzip');
}

/**
 * Request headers that are the transport's, not the application's: pseudo-headers, the
 * content type, `te`, everything under `grpc-` (timeout, encodings, tracing the gRPC
 * library owns), and the routing key header (it becomes the call's key).
 */
function isReservedRequestHeader(name: string): boolean {
  return name.charCodeAt(0) === 0x3a || name === 'content-type' || name === 'te' || name.startsWith('grpc-') || name === KEY_HEADER;
}

/**
 * The application metadata of a request (`ctx.metadata`) and its routing key. ASCII
 * headers keep their value; `-bin` headers keep it base64-encoded, as it travels; a header
 * sent more than once is joined with `,` (gRPC's own list form).
 */
export function readRequestMetadata(headers: Readonly<Record<string, string | string[] | undefined>>): {
  metadata: Record<string, string>;
  key: string;
} {
  const metadata: Record<string, string> = {};
  for (const name in headers) {
    if (isReservedRequestHeader(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    metadata[name] = headerValue(value)!;
  }
  return { metadata, key: headerValue(headers[KEY_HEADER]) ?? '' };
}

/** A header name HTTP/2 carries and gRPC allows for metadata: lower-case `0-9 a-z _ - .`. */
const METADATA_NAME = /^[0-9a-z_.-]+$/;
/** A value an ASCII metadata header may carry: printable ASCII. */
const ASCII_VALUE = /^[\x20-\x7e]*$/;

/**
 * Response metadata as HTTP/2 headers, added to `into`. Keys a response may not carry
 * (reserved, or not a valid header name) and ASCII values that are not printable ASCII are
 * left out rather than failing the call: the status is what the caller must receive.
 */
export function writeMetadata(metadata: Readonly<Record<string, string>> | undefined, into: Record<string, string | number>): Record<string, string | number> {
  if (metadata === undefined) return into;
  for (const name in metadata) {
    const value = metadata[name]!;
    if (!METADATA_NAME.test(name) || name.startsWith('grpc-') || name === 'content-type' || name === 'te') continue;
    if (!ASCII_VALUE.test(value)) continue;
    into[name] = value;
  }
  return into;
}

/**
 * `grpc-message`: the status message percent-encoded as the protocol asks (UTF-8 bytes
 * outside printable ASCII, and `%` itself, as `%XX`).
 */
export function encodeStatusMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The 5-byte prefix of a message of `length` bytes, in a buffer of `size` bytes (room for the message after it). */
export function messagePrefix(compressed: boolean, length: number, size = MESSAGE_PREFIX_BYTES): Buffer {
  const prefix = Buffer.allocUnsafe(size);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/** One length-prefixed message of a request: its bytes and whether they are compressed. */
export interface GrpcMessage {
  readonly compressed: boolean;
  readonly body: Buffer;
}

/**
 * Reads length-prefixed messages out of a request's DATA, chunk by chunk. A message's
 * declared length is checked against the limit as soon as its prefix is in, so an
 * oversized message is never buffered. A unary call takes one message (a second is a
 * fault); a streaming one hands each to `onMessage`. A stream that ends inside a message
 * is a fault either way.
 */
export class GrpcMessageReader {
  /** The first bytes of a prefix split across chunks (made only then: most prefixes arrive whole). */
  private prefix: Buffer | undefined;
  private prefixBytes = 0;
  private compressed = false;
  /** Declared length of the message being read; -1 while its prefix is incomplete. */
  private length = -1;
  private readonly pieces: Buffer[] = [];
  private received = 0;
  /** A unary call's message, once read. */
  private message: GrpcMessage | undefined;

  /**
   * @param maxBytes largest message accepted (the server's `maxFrameBytes`)
   * @param onLength told each message's declared length from its prefix; it may refuse by
   *   throwing a GrpcFault (the server-wide bound on buffered input)
   * @param onMessage for a streaming call: takes each message as it completes
   */
  constructor(
    private readonly maxBytes: number,
    private readonly onLength: (bytes: number) => void = () => {},
    private readonly onMessage?: (message: GrpcMessage) => void,
  ) {}

  /** Bytes declared by the message being read and not yet complete (0 between messages). */
  get pendingBytes(): number {
    return this.length < 0 ? 0 : this.length;
  }

  /** Takes a DATA chunk; throws a GrpcFault on a malformed or oversized message, or a unary call's second. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.length < 0) {
        if (this.prefixBytes === 0 && chunk.length - at >= MESSAGE_PREFIX_BYTES) {
          this.startMessage(chunk, at);
          at += MESSAGE_PREFIX_BYTES;
        } else {
          const n = Math.min(MESSAGE_PREFIX_BYTES - this.prefixBytes, chunk.length - at);
          this.prefix ??= Buffer.alloc(MESSAGE_PREFIX_BYTES);
          chunk.copy(this.prefix, this.prefixBytes, at, at + n);
          this.prefixBytes += n;
          at += n;
          if (this.prefixBytes < MESSAGE_PREFIX_BYTES) return;
          this.startMessage(this.prefix, 0);
        }
        if (this.length > 0) continue;
      } else {
        const n = Math.min(this.length - this.received, chunk.length - at);
        this.pieces.push(chunk.subarray(at, at + n));
        this.received += n;
        at += n;
      }
      if (this.received === this.length) this.endMessage();
    }
  }

  /** The stream ended: a unary call's message (undefined if none came), or a GrpcFault if it ended inside one. */
  end(): GrpcMessage | undefined {
    if (this.prefixBytes > 0 || this.length >= 0) {
      throw new GrpcFault(Status.INTERNAL, 'request stream ended inside a message (a truncated length-prefixed message)');
    }
    return this.message;
  }

  /** A whole prefix is in, at `at` of `bytes`. */
  private startMessage(bytes: Buffer, at: number): void {
    const flag = bytes[at]!;
    if (flag > 1) throw new GrpcFault(Status.INTERNAL, `invalid compressed flag ${flag} in a message prefix (must be 0 or 1)`);
    if (this.message !== undefined) throw new GrpcFault(Status.INTERNAL, 'a second request message on a unary call');
    const length = bytes.readUInt32BE(at + 1);
    if (length > this.maxBytes) {
      throw new GrpcFault(Status.RESOURCE_EXHAUSTED, `request message of ${length} bytes is larger than the server's limit of ${this.maxBytes} bytes`);
    }
    this.onLength(length);
    this.compressed = flag === 1;
    this.length = length;
    this.received = 0;
    if (length === 0) this.endMessage();
  }

  private endMessage(): void {
    const body = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.length);
    const message = { compressed: this.compressed, body };
    this.pieces.length = 0;
    this.prefixBytes = 0;
    this.length = -1;
    this.received = 0;
    if (this.onMessage === undefined) this.message = message;
    else this.onMessage(message);
  }
}
