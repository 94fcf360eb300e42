import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { loadServices, messageFromJson, messageToJson } from '../../../src/index.js';
import { Values, type AllKinds, type Oneofs, type Scalars } from '../../fixtures/protos/values/v1/generated.js';
import { Bench } from '../../../examples/bench/generated.js';
import { shapeOf, shapes } from '../../fixtures/values-handlers.js';

const test = suite('message-codec');

const AllKindsType = Values.methods.inline.requestType;
const GENERATED = readFileSync('tests/fixtures/protos/values/v1/generated.ts', 'utf8');
const buf = (...bytes: number[]): Buffer => Buffer.from(bytes);
const nested = (name: string, id: bigint) => ({ name, id });

/**
 * One value of one field of AllKinds, by path. `init` is what is encoded, `decoded` what
 * must come back (its `shapeOf` is checked, then its value). `absent` is the shape when
 * the field is not on the wire (its parent is), `absentValue` its value. `ts` is the
 * field's declaration in the generated module, so that the table ties each runtime shape
 * to the type that promises it.
 */
interface Row {
  readonly path: string;
  readonly ts: string;
  readonly init: unknown;
  readonly decoded: unknown;
  readonly absent: string;
  readonly absentValue?: unknown;
}

const EMPTY = Buffer.alloc(0);
const SCALARS: Row[] = [
  { path: 'scalars.fDouble', ts: 'fDouble: number', init: -1.25, decoded: -1.25, absent: 'number', absentValue: 0 },
  { path: 'scalars.fFloat', ts: 'fFloat: number', init: 0.5, decoded: 0.5, absent: 'number', absentValue: 0 },
  { path: 'scalars.fInt32', ts: 'fInt32: number', init: -7, decoded: -7, absent: 'number', absentValue: 0 },
  { path: 'scalars.fInt64', ts: 'fInt64: bigint', init: -9_223_372_036_854_775_808n, decoded: -9_223_372_036_854_775_808n, absent: 'bigint', absentValue: 0n },
  { path: 'scalars.fUint32', ts: 'fUint32: number', init: 4_294_967_295, decoded: 4_294_967_295, absent: 'number', absentValue: 0 },
  {
    path: 'scalars.fUint64',
    ts: 'fUint64: bigint',
    init: 18_446_744_073_709_551_615n,
    decoded: 18_446_744_073_709_551_615n,
    absent: 'bigint',
    absentValue: 0n,
  },
  { path: 'scalars.fSint32', ts: 'fSint32: number', init: -2_147_483_648, decoded: -2_147_483_648, absent: 'number', absentValue: 0 },
  { path: 'scalars.fSint64', ts: 'fSint64: bigint', init: -1n, decoded: -1n, absent: 'bigint', absentValue: 0n },
  { path: 'scalars.fFixed32', ts: 'fFixed32: number', init: 3_000_000_000, decoded: 3_000_000_000, absent: 'number', absentValue: 0 },
  { path: 'scalars.fFixed64', ts: 'fFixed64: bigint', init: 9_007_199_254_740_993n, decoded: 9_007_199_254_740_993n, absent: 'bigint', absentValue: 0n },
  { path: 'scalars.fSfixed32', ts: 'fSfixed32: number', init: -5, decoded: -5, absent: 'number', absentValue: 0 },
  {
    path: 'scalars.fSfixed64',
    ts: 'fSfixed64: bigint',
    init: 9_223_372_036_854_775_807n,
    decoded: 9_223_372_036_854_775_807n,
    absent: 'bigint',
    absentValue: 0n,
  },
  { path: 'scalars.fBool', ts: 'fBool: boolean', init: true, decoded: true, absent: 'boolean', absentValue: false },
  { path: 'scalars.fString', ts: 'fString: string', init: 'héllo', decoded: 'héllo', absent: 'string', absentValue: '' },
  { path: 'scalars.fBytes', ts: 'fBytes: Uint8Array', init: new Uint8Array([0, 255]), decoded: buf(0, 255), absent: 'Buffer', absentValue: EMPTY },
  { path: 'scalars.fEnum', ts: 'fEnum: Kind', init: -1, decoded: -1, absent: 'number', absentValue: 0 },
  { path: 'scalars.fMessage', ts: 'fMessage?: Nested', init: nested('n', 2n), decoded: nested('n', 2n), absent: 'absent' },
  { path: 'scalars.fMessage.id', ts: 'id: bigint', init: 5n, decoded: 5n, absent: 'bigint', absentValue: 0n },
];

const REPEATED: Row[] = [
  { path: 'repeateds.rDouble', ts: 'rDouble: number[]', init: [1.5, -0.25], decoded: [1.5, -0.25], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rFloat', ts: 'rFloat: number[]', init: [0.5], decoded: [0.5], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rInt32', ts: 'rInt32: number[]', init: [-1, 2], decoded: [-1, 2], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rInt64', ts: 'rInt64: bigint[]', init: [-1n, 2, '3'], decoded: [-1n, 2n, 3n], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rUint32', ts: 'rUint32: number[]', init: [4_294_967_295], decoded: [4_294_967_295], absent: 'empty[]', absentValue: [] },
  {
    path: 'repeateds.rUint64',
    ts: 'rUint64: bigint[]',
    init: [18_446_744_073_709_551_615n, 0n],
    decoded: [18_446_744_073_709_551_615n, 0n],
    absent: 'empty[]',
    absentValue: [],
  },
  { path: 'repeateds.rSint32', ts: 'rSint32: number[]', init: [-3], decoded: [-3], absent: 'empty[]', absentValue: [] },
  {
    path: 'repeateds.rSint64',
    ts: 'rSint64: bigint[]',
    init: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
    decoded: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
    absent: 'empty[]',
    absentValue: [],
  },
  { path: 'repeateds.rFixed32', ts: 'rFixed32: number[]', init: [7], decoded: [7], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rFixed64', ts: 'rFixed64: bigint[]', init: [2n ** 64n - 1n, 1n], decoded: [2n ** 64n - 1n, 1n], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rSfixed32', ts: 'rSfixed32: number[]', init: [-7], decoded: [-7], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rSfixed64', ts: 'rSfixed64: bigint[]', init: [-7n], decoded: [-7n], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rBool', ts: 'rBool: boolean[]', init: [true, false], decoded: [true, false], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rString', ts: 'rString: string[]', init: ['a', ''], decoded: ['a', ''], absent: 'empty[]', absentValue: [] },
  {
    path: 'repeateds.rBytes',
    ts: 'rBytes: Uint8Array[]',
    init: [new Uint8Array([1]), new Uint8Array(0)],
    decoded: [buf(1), EMPTY],
    absent: 'empty[]',
    absentValue: [],
  },
  { path: 'repeateds.rEnum', ts: 'rEnum: Kind[]', init: [1, -1, 0], decoded: [1, -1, 0], absent: 'empty[]', absentValue: [] },
  { path: 'repeateds.rMessage', ts: 'rMessage: Nested[]', init: [nested('a', 1n), {}], decoded: [nested('a', 1n), {}], absent: 'empty[]', absentValue: [] },
];

const MAPS: Row[] = [
  {
    path: 'maps.byString',
    ts: 'byString: { [key: string]: string }',
    init: { a: 'x', '': 'y' },
    decoded: { a: 'x', '': 'y' },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.int64ByString',
    ts: 'int64ByString: { [key: string]: bigint }',
    init: { a: -1n, b: 0n },
    decoded: { a: -1n, b: 0n },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.bytesByString',
    ts: 'bytesByString: { [key: string]: Uint8Array }',
    init: { a: new Uint8Array([2]) },
    decoded: { a: buf(2) },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.messageByString',
    ts: 'messageByString: { [key: string]: Nested }',
    init: { a: nested('m', 3n) },
    decoded: { a: nested('m', 3n) },
    absent: 'object',
    absentValue: {},
  },
  { path: 'maps.enumByString', ts: 'enumByString: { [key: string]: Kind }', init: { a: 1 }, decoded: { a: 1 }, absent: 'object', absentValue: {} },
  {
    path: 'maps.stringByInt64',
    ts: 'stringByInt64: { [key: string]: string }',
    init: { '-9223372036854775808': 'min', '12345678': 'eight digits', '0': 'zero' },
    decoded: { '-9223372036854775808': 'min', '12345678': 'eight digits', '0': 'zero' },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.messageByInt64',
    ts: 'messageByInt64: { [key: string]: Nested }',
    init: { '7': nested('seven', 7n) },
    decoded: { '7': nested('seven', 7n) },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.uint64ByUint64',
    ts: 'uint64ByUint64: { [key: string]: bigint }',
    init: { '18446744073709551615': 18_446_744_073_709_551_615n },
    decoded: { '18446744073709551615': 18_446_744_073_709_551_615n },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.boolBySint64',
    ts: 'boolBySint64: { [key: string]: boolean }',
    init: { '-2': true },
    decoded: { '-2': true },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.doubleByInt32',
    ts: 'doubleByInt32: { [key: string]: number }',
    init: { '-1': 0.5 },
    decoded: { '-1': 0.5 },
    absent: 'object',
    absentValue: {},
  },
  {
    path: 'maps.stringByBool',
    ts: 'stringByBool: { [key: string]: string }',
    init: { true: 't', false: 'f' },
    decoded: { true: 't', false: 'f' },
    absent: 'object',
    absentValue: {},
  },
];

const ONEOFS: Row[] = [
  { path: 'oneofs.cString', ts: "choice: 'cString'; cString: string", init: '', decoded: '', absent: 'absent' },
  { path: 'oneofs.cInt64', ts: "choice: 'cInt64'; cInt64: bigint", init: 0n, decoded: 0n, absent: 'absent' },
  { path: 'oneofs.cBytes', ts: "choice: 'cBytes'; cBytes: Uint8Array", init: new Uint8Array(0), decoded: EMPTY, absent: 'absent' },
  { path: 'oneofs.cMessage', ts: "choice: 'cMessage'; cMessage: Nested", init: {}, decoded: {}, absent: 'absent' },
  { path: 'oneofs.cEnum', ts: "choice: 'cEnum'; cEnum: Kind", init: 0, decoded: 0, absent: 'absent' },
  { path: 'oneofs.cDouble', ts: "choice: 'cDouble'; cDouble: number", init: 2.5, decoded: 2.5, absent: 'absent' },
  { path: 'oneofs.maybeInt32', ts: 'maybeInt32?: number', init: 0, decoded: 0, absent: 'absent' },
  { path: 'oneofs.maybeInt64', ts: 'maybeInt64?: bigint', init: 0n, decoded: 0n, absent: 'absent' },
  { path: 'oneofs.maybeBytes', ts: 'maybeBytes?: Uint8Array', init: new Uint8Array(0), decoded: EMPTY, absent: 'absent' },
  { path: 'oneofs.maybeString', ts: 'maybeString?: string', init: 'x', decoded: 'x', absent: 'absent' },
];

const WELL_KNOWN: Row[] = [
  { path: 'wellKnown.at', ts: 'at?: Timestamp', init: { seconds: 1_700_000_000n, nanos: 5 }, decoded: { seconds: 1_700_000_000n, nanos: 5 }, absent: 'absent' },
  { path: 'wellKnown.at.seconds', ts: 'seconds: bigint', init: -62_135_596_800n, decoded: -62_135_596_800n, absent: 'bigint', absentValue: 0n },
  { path: 'wellKnown.took', ts: 'took?: Duration', init: { seconds: 3n, nanos: -1 }, decoded: { seconds: 3n, nanos: -1 }, absent: 'absent' },
  { path: 'wellKnown.note', ts: 'note?: StringValue', init: { value: '' }, decoded: {}, absent: 'absent' },
  { path: 'wellKnown.note.value', ts: 'value: string', init: 'n', decoded: 'n', absent: 'string', absentValue: '' },
  { path: 'wellKnown.count.value', ts: 'value: bigint', init: -3n, decoded: -3n, absent: 'bigint', absentValue: 0n },
  { path: 'wellKnown.ucount.value', ts: 'value: bigint', init: 3n, decoded: 3n, absent: 'bigint', absentValue: 0n },
  { path: 'wellKnown.small.value', ts: 'value: number', init: -3, decoded: -3, absent: 'number', absentValue: 0 },
  { path: 'wellKnown.usmall.value', ts: 'value: number', init: 3, decoded: 3, absent: 'number', absentValue: 0 },
  { path: 'wellKnown.flag.value', ts: 'value: boolean', init: true, decoded: true, absent: 'boolean', absentValue: false },
  { path: 'wellKnown.blob.value', ts: 'value: Uint8Array', init: new Uint8Array([1]), decoded: buf(1), absent: 'Buffer', absentValue: EMPTY },
  { path: 'wellKnown.ratio.value', ts: 'value: number', init: 0.25, decoded: 0.25, absent: 'number', absentValue: 0 },
  { path: 'wellKnown.fraction.value', ts: 'value: number', init: 0.5, decoded: 0.5, absent: 'number', absentValue: 0 },
  { path: 'wellKnown.nothing', ts: 'nothing?: Empty', init: {}, decoded: {}, absent: 'absent' },
];

const ROWS = [...SCALARS, ...REPEATED, ...MAPS, ...ONEOFS, ...WELL_KNOWN];

/** An AllKinds init with `value` at `path`, every ancestor an object. */
function at(path: string, value: unknown, into: Record<string, unknown> = {}): Record<string, unknown> {
  const keys = path.split('.');
  let node = into;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys.at(-1)!] = value;
  return into;
}

function get(message: unknown, path: string): unknown {
  return path.split('.').reduce((node, key) => (node as Record<string, unknown>)[key], message);
}

/** The Type holding the last field of `path`, and that field. */
function fieldAt(path: string): { type: protobuf.Type; field: protobuf.Field } {
  let type = AllKindsType;
  const keys = path.split('.');
  for (const key of keys.slice(0, -1)) type = type.fields[key]!.resolvedType as protobuf.Type;
  return { type, field: type.fields[keys.at(-1)!]! };
}

/** The declaration of a message in the generated module, up to the blank line after it. */
function declaration(type: protobuf.Type): string {
  const start = GENERATED.indexOf(`/** Message \`${type.fullName.slice(1)}\`. */`);
  assert.ok(start >= 0, `no declaration of ${type.fullName}`);
  return GENERATED.slice(start, GENERATED.indexOf('\n\n', start));
}

/** Compares a decoded value with an expectation, class by class: `shapeOf` first, then values. */
function same(actual: unknown, expected: unknown, where: string): void {
  if (expected instanceof Uint8Array) {
    assert.is(shapeOf(actual), 'Buffer', `${where}: bytes decode as a Buffer`);
    assert.ok(Buffer.from(expected).equals(actual as Buffer), `${where}: bytes`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: an array`);
    assert.is((actual as unknown[]).length, expected.length, `${where}: length`);
    for (const [i, e] of expected.entries()) same((actual as unknown[])[i], e, `${where}[${i}]`);
  } else if (typeof expected === 'object' && expected !== null) {
    assert.type(actual, 'object', where);
    const own = Object.keys(actual as object);
    assert.equal(own.sort(), Object.keys(expected).sort(), `${where}: the fields set`);
    for (const [k, v] of Object.entries(expected)) same((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.is(typeof actual, typeof expected, `${where}: typeof`);
    assert.ok(Object.is(actual, expected), `${where}: ${String(actual)} is not ${String(expected)}`);
  }
}

const encode = (message: object): Buffer => Buffer.from(AllKindsType.encode(message).finish());
const decode = (bytes: Uint8Array): AllKinds => AllKindsType.decode(bytes) as unknown as AllKinds;

for (const row of ROWS) {
  test(`${row.path}: present and absent values have the generated type (${row.ts})`, () => {
    const { type } = fieldAt(row.path);
    assert.ok(declaration(type).includes(row.ts), `the generated ${type.name} does not declare ${row.ts}`);

    const problem = AllKindsType.verify(at(row.path, row.init));
    assert.is(problem, null);
    const bytes = encode(at(row.path, row.init));
    const decoded = decode(bytes);
    same(get(decoded, row.path), row.decoded, row.path);
    assert.ok(encode(decoded).equals(bytes), 'encode(decode(bytes)) gives the same bytes');
    // Also from a plain Uint8Array, as the worker lane decodes.
    same(get(decode(new Uint8Array(bytes)), row.path), row.decoded, `${row.path} (from a Uint8Array)`);

    const parent = row.path.split('.').slice(0, -1).join('.');
    const empty = decode(encode(at(parent, {})));
    const holder = get(empty, parent) as Record<string, unknown>;
    const name = row.path.split('.').at(-1)!;
    if (row.absent === 'absent') {
      assert.not.ok(name in holder, `${row.path}: unset, it is not there at all`);
    } else {
      assert.is(shapeOf(holder[name]), row.absent, `${row.path}: absent value shape`);
      same(holder[name], row.absentValue, `${row.path} (absent)`);
    }
  });
}

test('every field kind at once: encode → decode → encode is byte-equal, and every value keeps its shape', () => {
  const init: Record<string, unknown> = {};
  for (const row of ROWS.filter((r) => !r.path.startsWith('oneofs.c') || r.path === 'oneofs.cInt64')) at(row.path, row.init, init);
  // Parents set by a row and also given whole by another: keep the deeper ones' values.
  for (const row of ROWS.filter((r) => r.path.split('.').length === 3)) at(row.path, row.init, init);
  const bytes = encode(init);
  const decoded = decode(bytes);
  assert.ok(encode(decoded).equals(bytes));
  for (const row of [...SCALARS, ...REPEATED, ...MAPS].filter((r) => r.path.split('.').length === 2 && r.path !== 'scalars.fMessage'))
    same(get(decoded, row.path), row.decoded, row.path);
  const lines = shapes(AllKindsType, decoded as unknown as Record<string, unknown>);
  for (const expected of [
    'scalars.fInt64: bigint',
    'scalars.fBytes: Buffer',
    'oneofs.cInt64: bigint',
    'oneofs.cString: absent',
    'oneofs.choice = cInt64',
    'wellKnown.at.seconds: bigint',
  ]) {
    assert.ok(lines.includes(expected), `missing ${expected} in\n${lines.join('\n')}`);
  }
});

test('a oneof: the decoded value narrows on its name, the members not set are absent, and the last one on the wire wins', () => {
  const first = Buffer.from(AllKindsType.encode({ oneofs: { cString: 'a' } }).finish());
  const second = Buffer.from(AllKindsType.encode({ oneofs: { cInt64: 9n } }).finish());
  const oneofs: Oneofs = decode(Buffer.concat([first, second])).oneofs!;
  assert.is(oneofs.choice, 'cInt64');
  if (oneofs.choice === 'cInt64') assert.is(oneofs.cInt64 satisfies bigint, 9n);
  assert.not.ok('cString' in oneofs);
  const none: Oneofs = decode(encode({ oneofs: {} })).oneofs!;
  assert.is(none.choice, undefined);
  assert.is(none.cString, undefined);
  assert.match(String(AllKindsType.verify({ oneofs: { cString: 'a', cDouble: 1 } })), /choice: multiple values/);
});

test('64-bit fields: encode takes bigint, safe integers, decimal strings and Longs, and refuses what it cannot represent', () => {
  const type = Values.methods.inline.requestType;
  const long = (protobuf.util.Long as unknown as { fromString(text: string, unsigned: boolean): object }).fromString('18446744073709551615', true);
  const viaLong = encode({ scalars: { fUint64: long } });
  assert.ok(viaLong.equals(encode({ scalars: { fUint64: 18_446_744_073_709_551_615n } })));
  assert.ok(encode({ scalars: { fInt64: 42 } }).equals(encode({ scalars: { fInt64: '42' } })));
  // A zero of any form is proto3's default: nothing is written.
  for (const zero of [0, 0n, '0']) assert.is(encode({ scalars: { fInt64: zero, fUint64: zero } }).length, 2); // the `scalars` tag and a zero length
  for (const [init, message] of [
    [{ fInt64: 2 ** 53 }, /fInt64: int64/],
    [{ fInt64: 1.5 }, /fInt64: int64/],
    [{ fInt64: 2n ** 63n }, /fInt64: int64/],
    [{ fUint64: -1n }, /fUint64: uint64/],
    [{ fUint64: '1e3' }, /fUint64: uint64/],
  ] as const) {
    assert.match(String(type.verify({ scalars: init })), message);
  }
  assert.match(
    String(type.verify({ maps: { stringByInt64: { '\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008': 'hash key' } } })),
    /stringByInt64: decimal int64 key/,
  );
});

test('proto3 JSON keeps working with bigints: decoded messages format, parsed ones encode', () => {
  const init = {
    scalars: { fInt64: -5n, fUint64: 18_446_744_073_709_551_615n },
    maps: { stringByInt64: { '-3': 'x' } },
    wellKnown: { at: { seconds: 1_700_000_000n, nanos: 0 } },
  };
  const decoded = decode(encode(init));
  const json = messageToJson(AllKindsType, decoded) as { scalars: Record<string, unknown>; wellKnown: { at: unknown } };
  assert.equal(json.scalars, { fInt64: '-5', fUint64: '18446744073709551615' });
  assert.is(json.wellKnown.at, '2023-11-14T22:13:20Z');
  const parsed = messageFromJson(AllKindsType, json);
  assert.is(AllKindsType.verify(parsed), null);
  assert.ok(encode(parsed).equals(encode(init)));
});

test('defect 1: an absent bytes field is an empty Buffer, on a Buffer and on a plain Uint8Array', () => {
  const type = Bench.methods.work.requestType;
  for (const bytes of [Buffer.from(type.encode({ rounds: 1 }).finish()), new Uint8Array(type.encode({ rounds: 1 }).finish())]) {
    const request = type.decode(bytes) as unknown as { payload: Uint8Array };
    assert.ok(Buffer.isBuffer(request.payload), `absent payload is ${shapeOf(request.payload)}`);
    assert.is(request.payload.length, 0);
  }
  const present = Bench.methods.echo.requestType.decode(
    new Uint8Array(Bench.methods.echo.requestType.encode({ payload: Buffer.from('x') }).finish()),
  ) as unknown as { payload: Uint8Array };
  assert.ok(Buffer.isBuffer(present.payload));
});

test('messages without 64-bit fields keep protobufjs encoders and verifiers; services loaded at run time are prepared the same', () => {
  const echo = Bench.methods.echo.requestType;
  assert.not.match(echo.encode.toString(), /Int64|bigint/i);
  const [dynamic] = loadServices('tests/fixtures/protos/values/v1/values.proto');
  const scalars: Scalars = (dynamic!.methods['inline']!.requestType.decode(encode({ scalars: { fInt64: 1n } })) as unknown as AllKinds).scalars!;
  assert.is(scalars.fInt64, 1n);
  assert.ok(Buffer.isBuffer(scalars.fBytes));
});

test.run();
