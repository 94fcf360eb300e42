/**
 * A protobufjs 64-bit integer (`long` package). ringrpc decodes 64-bit fields as
 * `bigint`; a `Long` is still accepted when encoding (it is what `messageFromJson` gives).
 */
export interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
  toNumber(): number;
  toString(radix?: number): string;
}

/**
 * What a 64-bit integer field accepts when encoding: a `bigint` (what decoding gives), a
 * safe-integer number, a decimal string or a `Long`, within the field's range.
 */
export type Int64Init = bigint | number | string | LongLike;

/**
 * What a caller may pass where a message of type `T` is expected: every field optional
 * (proto3 defaults fill the rest), nested messages likewise, 64-bit integers as
 * {@link Int64Init}. For a oneof, the member set is enough: its name may be left out.
 */
export type MessageInit<T> = T extends Uint8Array
  ? Uint8Array
  : T extends bigint | LongLike
    ? Int64Init
    : T extends ReadonlyArray<infer U>
      ? ReadonlyArray<MessageInit<U>>
      : T extends object
        ? { [K in keyof T]?: MessageInit<T[K]> | null }
        : T;
