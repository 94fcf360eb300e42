import protobuf from 'protobufjs';

/**
 * 64-bit integers as `bigint`. Decoded int64, uint64, sint64, fixed64 and sfixed64 values
 * are bigints; encoding also takes safe-integer numbers, decimal strings and protobufjs
 * `Long`s. protobufjs itself reads them as `Long` objects, so the message types of a
 * defined service read and write them through the subclasses below instead (see
 * `message-codec.ts`). Nothing global is patched: other users of protobufjs in the
 * process keep their `Long`s.
 */

const TWO_32 = 0x1_0000_0000;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const DECIMAL = /^-?(?:0|[1-9][0-9]*)$/;

/** A 64-bit value as protobufjs's writer takes it (it reads `low` and `high` only). */
interface Bits {
  readonly low: number;
  readonly high: number;
}

/** The `Long` shape (protobufjs's `long` package): what `messageFromJson` produces. */
function isLong(value: unknown): value is Bits {
  return typeof value === 'object' && value !== null && Number.isInteger((value as Bits).low) && Number.isInteger((value as Bits).high);
}

/**
 * The value of a 64-bit field given as bigint, safe-integer number, decimal string or
 * `Long`, checked against the field's range; `undefined` when it is none of these or out
 * of range. Unsafe numbers are refused: they have already lost precision.
 */
export function toInt64(value: unknown, unsigned: boolean): bigint | undefined {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return undefined;
    big = BigInt(value);
  } else if (typeof value === 'string') {
    if (!DECIMAL.test(value)) return undefined;
    big = BigInt(value);
  } else if (isLong(value)) {
    const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
    return (value as { unsigned?: boolean }).unsigned ? bits : BigInt.asIntN(64, bits);
  } else return undefined;
  if (unsigned ? big < 0n || big > UINT64_MAX : big < INT64_MIN || big > INT64_MAX) return undefined;
  return big;
}

/** True when {@link toInt64} accepts `value` for a field of this signedness. */
export function isInt64(value: unknown, unsigned: boolean): boolean {
  return toInt64(value, unsigned) !== undefined;
}

/** True when `key` is the decimal map key of a 64-bit integer of this signedness. */
export function isInt64Key(key: string, unsigned: boolean): boolean {
  return DECIMAL.test(key) && toInt64(key, unsigned) !== undefined;
}

function bitsOf(value: unknown): unknown {
  if (typeof value === 'number' || isLong(value)) return value; // protobufjs's own path
  const big = typeof value === 'bigint' ? value : typeof value === 'string' && DECIMAL.test(value) ? BigInt(value) : undefined;
  if (big === undefined || big < INT64_MIN || big > UINT64_MAX) throw new TypeError(`not a 64-bit integer: ${String(value)}`);
  const u = BigInt.asUintN(64, big);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 } satisfies Bits;
}

type WriteOne = (this: protobuf.Writer, value: unknown) => protobuf.Writer;
type WriteMany = (this: protobuf.Writer, values: unknown[]) => protobuf.Writer;

/**
 * A `BufferWriter` whose 64-bit writes also take bigints and any decimal string in range
 * (protobufjs parses strings as signed, so it would refuse uint64 values above 2^63).
 */
export class Int64Writer extends protobuf.BufferWriter {
  /** What the encoders' `Writer.create()` calls. */
  static override create(): Int64Writer {
    return new Int64Writer();
  }
}

{
  const base = protobuf.BufferWriter.prototype as unknown as Record<string, WriteOne & WriteMany>;
  const proto = Int64Writer.prototype as unknown as Record<string, WriteOne | WriteMany>;
  for (const name of ['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']) {
    const one = base[name]!;
    const many = base[`${name}s`]!;
    proto[name] = function writeOne(this: protobuf.Writer, value: unknown) {
      return one.call(this, bitsOf(value) as never);
    };
    proto[`${name}s`] = function writeMany(this: protobuf.Writer, values: unknown[]) {
      return many.call(this, values.map(bitsOf) as never);
    };
  }
}

function outOfRange(reader: protobuf.Reader, size: number): RangeError {
  return new RangeError(`index out of range: ${reader.pos} + ${size} > ${reader.len}`);
}

/** Reads a varint of up to 64 bits as an unsigned bigint. */
function readVarint64(r: protobuf.Reader): bigint {
  const buf = r.buf;
  const end = r.len;
  let pos = r.pos;
  let lo = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw outOfRange(r, 1);
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      r.pos = pos;
      return BigInt(lo);
    }
  }
  if (pos >= end) throw outOfRange(r, 1);
  b = buf[pos++]!;
  lo = (lo | ((b & 0x0f) << 28)) >>> 0;
  let hi = (b & 0x7f) >> 4;
  if (b >= 0x80) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31) throw new Error('invalid varint encoding');
      if (pos >= end) throw outOfRange(r, 1);
      b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
  }
  r.pos = pos;
  return hi === 0 ? BigInt(lo) : (BigInt(hi >>> 0) << 32n) | BigInt(lo);
}

function readFixed64(r: protobuf.Reader): bigint {
  if (r.pos + 8 > r.len) throw outOfRange(r, 8);
  const buf = r.buf;
  const p = r.pos;
  const lo = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
  const hi = (buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)) >>> 0;
  r.pos = p + 8;
  return hi === 0 ? BigInt(lo) : BigInt(hi) * BigInt(TWO_32) + BigInt(lo);
}

/**
 * A `BufferReader` whose 64-bit reads give bigints. The packed readers (`int64s`, …)
 * call these per value, so they need no override.
 */
export class Int64Reader extends protobuf.BufferReader {}

Object.assign(Int64Reader.prototype, {
  int64(this: protobuf.Reader): bigint {
    return BigInt.asIntN(64, readVarint64(this));
  },
  uint64(this: protobuf.Reader): bigint {
    return readVarint64(this);
  },
  sint64(this: protobuf.Reader): bigint {
    const u = readVarint64(this);
    return (u >> 1n) ^ -(u & 1n);
  },
  fixed64(this: protobuf.Reader): bigint {
    return readFixed64(this);
  },
  sfixed64(this: protobuf.Reader): bigint {
    return BigInt.asIntN(64, readFixed64(this));
  },
});
