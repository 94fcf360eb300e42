import { isUtf8 } from 'node:buffer';
import { Status } from '../status.js';
import { RpcError } from '../errors.js';
import { Compression, HEADER_BYTES, MAX_KEY_BYTES, SURELY_SHORT_KEY_UNITS } from './constants.js';

/**
 * The decoded `ringrpc.v1.Meta` (spec §Meta). Absent fields take proto3 defaults,
 * so an empty meta (0 bytes) is a valid OK RESPONSE without metadata.
 */
export interface Meta {
  service: string;
  method: string;
  timeoutMs: number;
  status: number;
  message: string;
  compression: number;
  metadata: Record<string, string>;
  lastRequestId: number;
  /** REQUEST, ONEWAY: the routing key (spec §Keys); `''` for none. */
  key: string;
  /** REQUEST of a stream: the client's initial window for the server's MESSAGEs, in bytes; 0 = the default (spec §Streams). */
  window: number;
}

/** The fields a sender sets; the rest default. */
export type MetaInit = Partial<Meta>;

/**
 * Thrown by {@link decodeMeta}; the connection answers GOAWAY with `status`: INTERNAL for
 * meta that is not valid (spec §bad input), RESOURCE_EXHAUSTED for more metadata entries
 * than {@link MAX_METADATA_ENTRIES}.
 */
export class MetaError extends Error {
  override readonly name = 'MetaError';
  constructor(
    message: string,
    readonly status: Status = Status.INTERNAL,
  ) {
    super(message);
  }
}

/**
 * Metadata entries one Meta may carry. The meta limit bounds the bytes, this the count:
 * empty entries cost two bytes each, and each is an object property on the reactor.
 */
export const MAX_METADATA_ENTRIES = 1024;

/** A request's key over the limit (spec §Keys: answered INVALID_ARGUMENT, the connection stays open); undefined when fine. */
export function keyError(meta: Meta): RpcError | undefined {
  if (meta.key.length <= SURELY_SHORT_KEY_UNITS) return undefined;
  const bytes = Buffer.byteLength(meta.key);
  if (bytes <= MAX_KEY_BYTES) return undefined;
  return new RpcError(Status.INVALID_ARGUMENT, `key of ${meta.service}/${meta.method} is ${bytes} bytes, over the limit of ${MAX_KEY_BYTES}`);
}

const EMPTY_METADATA: Record<string, string> = Object.freeze({}) as Record<string, string>;
const EMPTY = Buffer.alloc(0);

// Wire types of protobuf encoding.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/**
 * Decodes Meta strictly. protobufjs's generated decoders ignore the wire type of known
 * fields and do not check UTF-8; the spec requires both to be rejected, which is why this
 * small codec is hand-written (tests cross-check it against `proto/ringrpc/v1/meta.proto`).
 * Unknown fields are skipped, as protobuf requires for forward compatibility.
 */
export function decodeMeta(buf: Uint8Array): Meta {
  const meta: Meta = {
    service: '',
    method: '',
    timeoutMs: 0,
    status: 0,
    message: '',
    compression: 0,
    metadata: EMPTY_METADATA,
    lastRequestId: 0,
    key: '',
    window: 0,
  };
  if (buf.length === 0) return meta;
  const r = new Reader(buf, 0, buf.length);
  let entries = 0;
  while (r.pos < r.end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new MetaError('invalid Meta: field number 0');
    switch (field) {
      case 1:
        meta.service = r.expect(wire, LEN, 'service').string(SERVICES);
        break;
      case 2:
        meta.method = r.expect(wire, LEN, 'method').string(METHODS);
        break;
      case 3:
        meta.timeoutMs = r.expect(wire, VARINT, 'timeout_ms').varint32();
        break;
      case 4:
        meta.status = r.expect(wire, VARINT, 'status').varint32();
        break;
      case 5:
        meta.message = r.expect(wire, LEN, 'message').string();
        break;
      case 6:
        meta.compression = r.expect(wire, VARINT, 'compression').varint32() | 0;
        break;
      case 7: {
        const entryLen = r.expect(wire, LEN, 'metadata').length();
        if (meta.metadata === EMPTY_METADATA) meta.metadata = Object.create(null) as Record<string, string>;
        if (++entries > MAX_METADATA_ENTRIES) throw new MetaError(`Meta carries more than ${MAX_METADATA_ENTRIES} metadata entries`, Status.RESOURCE_EXHAUSTED);
        readMapEntry(new Reader(buf, r.pos, r.pos + entryLen), meta.metadata);
        r.pos += entryLen;
        break;
      }
      case 8:
        meta.lastRequestId = r.expect(wire, VARINT, 'last_request_id').varint32();
        break;
      case 9:
        meta.key = r.expect(wire, LEN, 'key').string();
        break;
      case 10:
        meta.window = r.expect(wire, VARINT, 'window').varint32();
        break;
      default:
        r.skip(wire);
    }
  }
  return meta;
}

function readMapEntry(r: Reader, into: Record<string, string>): void {
  let key = '';
  let value = '';
  while (r.pos < r.end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) key = r.expect(wire, LEN, 'metadata key').string();
    else if (field === 2) value = r.expect(wire, LEN, 'metadata value').string();
    else if (field === 0) throw new MetaError('invalid Meta: field number 0 in metadata entry');
    else r.skip(wire);
  }
  into[key] = value;
}

/**
 * The strings a field took recently, by their bytes: nearly every REQUEST of a server names
 * one of a few services and methods, and comparing a few bytes costs far less than checking
 * and decoding UTF-8 into a new string each time (which was about a tenth of the reactor's
 * time per Echo). Direct-mapped on length and first and last byte; a miss decodes as usual.
 */
class RecentStrings {
  private static readonly SLOTS = 64;
  private static readonly MAX_BYTES = 128;
  private readonly bytes: Array<Uint8Array | undefined> = new Array(RecentStrings.SLOTS).fill(undefined);
  private readonly values: string[] = new Array(RecentStrings.SLOTS).fill('');

  private static slot(buf: Uint8Array, start: number, len: number): number {
    return len === 0 ? 0 : (len * 31 + buf[start]! * 7 + buf[start + len - 1]!) & (RecentStrings.SLOTS - 1);
  }

  find(buf: Uint8Array, start: number, len: number): string | undefined {
    const slot = RecentStrings.slot(buf, start, len);
    const known = this.bytes[slot];
    if (known === undefined || known.length !== len) return undefined;
    for (let i = 0; i < len; i++) if (known[i] !== buf[start + i]) return undefined;
    return this.values[slot];
  }

  remember(bytes: Uint8Array, value: string): void {
    if (bytes.length > RecentStrings.MAX_BYTES) return;
    const slot = RecentStrings.slot(bytes, 0, bytes.length);
    this.bytes[slot] = Uint8Array.from(bytes); // a copy: `bytes` is a view of a read chunk
    this.values[slot] = value;
  }
}
const SERVICES = new RecentStrings();
const METHODS = new RecentStrings();

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  expect(wire: number, want: number, name: string): this {
    if (wire !== want) throw new MetaError(`invalid Meta: field ${name} has wire type ${wire}, expected ${want}`);
    return this;
  }

  /** A varint truncated to 32 bits (uint32/enum fields may be sent as up to 10 bytes). */
  varint32(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new MetaError('invalid Meta: truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    throw new MetaError('invalid Meta: varint longer than 10 bytes');
  }

  length(): number {
    const len = this.varint32();
    if (len > this.end - this.pos) throw new MetaError('invalid Meta: truncated length-delimited field');
    return len;
  }

  /** A UTF-8 string field; looked up in `recent` first, when given (see {@link RecentStrings}). */
  string(recent?: RecentStrings): string {
    const len = this.length();
    const start = this.pos;
    this.pos += len;
    const known = recent?.find(this.buf, start, len);
    if (known !== undefined) return known;
    const bytes = this.buf.subarray(start, start + len);
    if (!isUtf8(bytes)) throw new MetaError('invalid Meta: string is not valid UTF-8');
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    recent?.remember(bytes, value);
    return value;
  }

  skip(wire: number): void {
    switch (wire) {
      case VARINT:
        this.varint32();
        return;
      case I64:
        this.advance(8);
        return;
      case LEN: {
        const len = this.length(); // reads the length varint first: `pos += length()` would lose its bytes
        this.pos += len;
        return;
      }
      case I32:
        this.advance(4);
        return;
      default:
        throw new MetaError(`invalid Meta: unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new MetaError('invalid Meta: truncated fixed-width field');
    this.pos += n;
  }
}

/**
 * Encodes Meta, writing only non-default fields (proto3), so the common OK RESPONSE
 * has an empty meta and costs nothing here.
 */
export function encodeMeta(meta: MetaInit): Buffer {
  let size = 0;
  const service = meta.service ? Buffer.from(meta.service, 'utf8') : undefined;
  const method = meta.method ? Buffer.from(meta.method, 'utf8') : undefined;
  const message = meta.message ? Buffer.from(meta.message, 'utf8') : undefined;
  const key = meta.key ? Buffer.from(meta.key, 'utf8') : undefined;
  if (service) size += 1 + varintSize(service.length) + service.length;
  if (method) size += 1 + varintSize(method.length) + method.length;
  if (meta.timeoutMs) size += 1 + varintSize(meta.timeoutMs);
  if (meta.status) size += 1 + varintSize(meta.status);
  if (message) size += 1 + varintSize(message.length) + message.length;
  if (meta.compression) size += 1 + varintSize(meta.compression);
  let entries: Array<[Buffer, Buffer]> | undefined;
  if (meta.metadata) {
    for (const key in meta.metadata) {
      const k = Buffer.from(key, 'utf8');
      const v = Buffer.from(String(meta.metadata[key]), 'utf8');
      const entryLen = 2 + varintSize(k.length) + k.length + varintSize(v.length) + v.length;
      size += 1 + varintSize(entryLen) + entryLen;
      (entries ??= []).push([k, v]);
    }
  }
  if (meta.lastRequestId) size += 1 + varintSize(meta.lastRequestId);
  if (key) size += 1 + varintSize(key.length) + key.length;
  if (meta.window) size += 1 + varintSize(meta.window);
  if (size === 0) return EMPTY;

  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  const bytesField = (tag: number, bytes: Buffer): void => {
    out[pos++] = tag;
    pos = writeVarint(out, pos, bytes.length);
    pos += bytes.copy(out, pos);
  };
  const varintField = (tag: number, value: number): void => {
    out[pos++] = tag;
    pos = writeVarint(out, pos, value);
  };
  if (service) bytesField(0x0a, service);
  if (method) bytesField(0x12, method);
  if (meta.timeoutMs) varintField(0x18, meta.timeoutMs);
  if (meta.status) varintField(0x20, meta.status);
  if (message) bytesField(0x2a, message);
  if (meta.compression) varintField(0x30, meta.compression);
  if (entries) {
    for (const [k, v] of entries) {
      out[pos++] = 0x3a;
      pos = writeVarint(out, pos, 2 + varintSize(k.length) + k.length + varintSize(v.length) + v.length);
      bytesField(0x0a, k);
      bytesField(0x12, v);
    }
  }
  if (meta.lastRequestId) varintField(0x40, meta.lastRequestId);
  if (key) bytesField(0x4a, key);
  if (meta.window) varintField(0x50, meta.window);
  return out;
}

function varintSize(value: number): number {
  value >>>= 0;
  let n = 1;
  while (value >= 0x80) {
    value >>>= 7;
    n++;
  }
  return n;
}

function writeVarint(out: Buffer, pos: number, value: number): number {
  value >>>= 0;
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

/** The Meta of a stream's MESSAGE whose body is gzipped: `compression` only (spec §Streams); a plain one has none. */
export const GZIP_MESSAGE_META: Buffer = encodeMeta({ compression: Compression.GZIP });

/** What a stream's MESSAGE costs its sender's credit (spec §Streams): its header, its Meta and its body. */
export function messageCost(bodyBytes: number, compression: number): number {
  return HEADER_BYTES + (compression === Compression.GZIP ? GZIP_MESSAGE_META.length : 0) + bodyBytes;
}
