/**
 * The few pieces of the wire protocol (docs/protocol.md) that the raw-protocol load clients
 * write by hand: they use no ringrpc client code, so that the server is measured alone.
 */

/** Protobuf: a varint. */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Protobuf: field `field` of wire type 2 (bytes, string, message). */
export function lengthDelimited(field: number, bytes: Uint8Array): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

export const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/** Reads a varint of `buf` at `at`: [value, next offset]. */
export function readVarint(buf: Uint8Array, at: number): [number, number] {
  let n = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [n, at];
    shift += 7;
  }
}

/** `Meta.status` (field 4) of a frame's meta at `from`..`to` of `buf`, 0 when absent. */
export function metaStatus(buf: Uint8Array, from: number, to: number): number {
  let at = from;
  while (at < to) {
    let tag: number;
    [tag, at] = readVarint(buf, at);
    const wire = tag & 7;
    let value: number;
    if (wire === 0) {
      [value, at] = readVarint(buf, at);
      if (tag >>> 3 === 4) return value;
    } else if (wire === 2) {
      [value, at] = readVarint(buf, at);
      at += value;
    } else if (wire === 5) at += 4;
    else if (wire === 1) at += 8;
    else throw new Error(`unexpected wire type ${wire} in a frame's meta`);
  }
  return 0;
}

/** One whole frame: header (magic, version 1, type, request_id, lengths), meta, body. */
export function frame(type: number, requestId: number, meta: Uint8Array, body: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + meta.length + body.length);
  out.write('RR', 0, 'latin1');
  out[2] = 1;
  out[3] = type;
  out.writeUInt32BE(requestId, 4);
  out.writeUInt32BE(meta.length, 8);
  out.writeUInt32BE(body.length, 12);
  out.set(meta, 16);
  out.set(body, 16 + meta.length);
  return out;
}
