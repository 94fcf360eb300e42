import { HEADER_BYTES, MAGIC, VERSION, type FrameType } from './constants.js';

/**
 * One decoded frame. `meta` and `body` are views: into the socket chunk when the frame
 * arrived in one read, into an exact-size copy when it straddled reads. A view pins its
 * parent chunk, so a consumer that keeps bytes past the current tick copies them.
 */
export interface Frame {
  type: FrameType;
  requestId: number;
  /** A view (a plain `Uint8Array`: cheaper to make than a Buffer; only the Meta codec reads it). */
  meta: Uint8Array;
  /** A Buffer view, since protobufjs decodes `bytes` fields of a Buffer as Buffers, which handlers may rely on. */
  body: Buffer;
}

/**
 * A frame's body as it is written: one buffer, or pieces sent one after the other (a reply
 * whose large `bytes` field goes uncopied, see `encodeSplit`).
 */
export type FrameBody = Uint8Array | readonly Uint8Array[];

/** The bytes a {@link FrameBody} holds. */
export function bodyLength(body: FrameBody): number {
  if (body instanceof Uint8Array) return body.length;
  let n = 0;
  for (const piece of body) n += piece.length;
  return n;
}

/** Writes the 16-byte header (spec §Frame) at `offset` of `out`. */
export function writeHeader(out: Buffer, offset: number, type: FrameType, requestId: number, metaLength: number, bodyLength: number): void {
  out.writeUInt16BE(MAGIC, offset);
  out[offset + 2] = VERSION;
  out[offset + 3] = type;
  out.writeUInt32BE(requestId >>> 0, offset + 4);
  out.writeUInt32BE(metaLength, offset + 8);
  out.writeUInt32BE(bodyLength, offset + 12);
}

/** Encodes a whole frame into one new buffer: header, meta, body. */
export function encodeFrame(type: FrameType, requestId: number, meta: Uint8Array, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + meta.length + body.length);
  writeHeader(out, 0, type, requestId, meta.length, body.length);
  out.set(meta, HEADER_BYTES);
  out.set(body, HEADER_BYTES + meta.length);
  return out;
}

/**
 * Encodes header and meta into one buffer and leaves the body as it is, so that a large
 * body goes to the socket without another copy (see `FrameWriter`). `prefix`: small
 * leading pieces of the body, copied in after the meta.
 */
export function encodeHead(type: FrameType, requestId: number, meta: Uint8Array, bodyLength: number, prefix: readonly Uint8Array[] = []): Buffer {
  let size = HEADER_BYTES + meta.length;
  for (const piece of prefix) size += piece.length;
  const out = Buffer.allocUnsafe(size);
  writeHeader(out, 0, type, requestId, meta.length, bodyLength);
  out.set(meta, HEADER_BYTES);
  let at = HEADER_BYTES + meta.length;
  for (const piece of prefix) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
