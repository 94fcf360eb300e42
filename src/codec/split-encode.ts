import type protobuf from 'protobufjs';
import { encodeMessage } from './message-writer.js';

/** A message's singular, top-level `bytes` field: its name and the key that precedes its length on the wire. */
interface BytesField {
  readonly name: string;
  readonly key: Buffer;
}

const bytesFieldsByType = new WeakMap<protobuf.Type, readonly BytesField[]>();

/** Wire type 2 (length-delimited), spec'd by protobuf's encoding: key = field number << 3 | 2. */
const LENGTH_DELIMITED = 2;

function bytesFieldsOf(type: protobuf.Type): readonly BytesField[] {
  let fields = bytesFieldsByType.get(type);
  if (fields === undefined) {
    fields = type.fieldsArray
      .filter((f) => f.type === 'bytes' && !f.repeated && !f.map)
      .map((f) => ({ name: f.name, key: varint(f.id * 8 + LENGTH_DELIMITED) }));
    bytesFieldsByType.set(type, fields);
  }
  return fields;
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/**
 * Encodes `value` as `type` (already verified against it), leaving each top-level `bytes`
 * field of at least `largeBytes` out of the encoding: such a field follows it as its own
 * pieces, its key and length, then the caller's bytes themselves, uncopied. The pieces,
 * written one after the other, are a valid encoding of the message (a parser takes fields
 * in any order, protobuf's encoding spec). With no such field, the plain encoding, in one
 * buffer.
 *
 * Why: protobufjs copies a `bytes` field into its writer's buffer, and that buffer again
 * into the one `finish()` returns, so a 16 MiB reply cost its thread two 16 MiB copies (and
 * two 16 MiB allocations) before any byte was written. Written as pieces (writev), the
 * bytes go from the handler's buffer to the socket. Fields nested in sub-messages are
 * encoded as protobufjs does.
 *
 * `borrowBelow`: a plain encoding shorter than this may be a view of a buffer the thread's
 * next encoding overwrites (see `encodeMessage`), for a caller that copies it at once.
 */
export function encodeSplit(type: protobuf.Type, value: Record<string, unknown>, largeBytes: number, borrowBelow = 0): Uint8Array | Uint8Array[] {
  let large: BytesField[] | undefined;
  for (const field of bytesFieldsOf(type)) {
    const v = value[field.name];
    if (v instanceof Uint8Array && v.length >= largeBytes) (large ??= []).push(field);
  }
  if (large === undefined) return encodeMessage(type, value, borrowBelow);
  // The rest of the message, without the large fields (the encoder writes only own properties).
  const rest: Record<string, unknown> = { ...value };
  for (const field of large) delete rest[field.name];
  const pieces: Uint8Array[] = [encodeMessage(type, rest)];
  for (const field of large) {
    const bytes = value[field.name] as Uint8Array;
    pieces.push(Buffer.concat([field.key, varint(bytes.length)]), bytes);
  }
  return pieces;
}
