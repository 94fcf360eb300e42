/**
 * A protobufjs 64-bit integer (`long` package). Decoded int64/uint64/sint64/fixed64
 * fields are `Long` objects; `Number(x)` or `x.toString()` converts them.
 */
export interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
  toNumber(): number;
  toString(radix?: number): string;
}

/**
 * What a caller may pass where a message of type `T` is expected: every field optional
 * (proto3 defaults fill the rest), nested messages likewise, 64-bit integers as numbers,
 * strings or `Long`s.
 */
export type MessageInit<T> = T extends Uint8Array
  ? Uint8Array
  : T extends LongLike
    ? LongLike | number | string
    : T extends ReadonlyArray<infer U>
      ? ReadonlyArray<MessageInit<U>>
      : T extends object
        ? { [K in keyof T]?: MessageInit<T[K]> | null }
        : T;
