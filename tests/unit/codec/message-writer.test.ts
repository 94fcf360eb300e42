import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import protobuf from 'protobufjs';
import { encodeMessage } from '../../../src/codec/message-writer.js';
import { Values } from '../../fixtures/protos/values/v1/generated.js';

const test = suite('message-writer');

const root = protobuf.parse(`syntax = "proto3"; package t;
  message Inner { string name = 1; repeated uint32 ids = 2; }
  message Outer { bytes payload = 1; Inner inner = 2; repeated Inner list = 3; map<string, string> tags = 4; uint64 big = 5; sint32 delta = 6; }
`).root;
const Outer = root.lookupType('t.Outer');

const samples: Array<Record<string, unknown>> = [
  {},
  { payload: Buffer.alloc(64, 7) },
  { payload: new Uint8Array(300).map((_, i) => i), inner: { name: 'héllo', ids: [1, 2, 300, 70000] }, delta: -5 },
  { list: [{ name: 'a' }, { name: '', ids: [0] }, { ids: [4294967295] }], tags: { k: 'v', 'x-y': 'z' }, big: 12345678901 },
  { payload: Buffer.alloc(100_000, 3), inner: { name: 'large' } },
];

test('encodes what protobufjs encodes, message after message, owned or borrowed', () => {
  for (let round = 0; round < 3; round++) {
    for (const value of samples) {
      const expected = Buffer.from(Outer.encode(value).finish());
      assert.equal(Buffer.from(encodeMessage(Outer, value)), expected);
      assert.equal(Buffer.from(encodeMessage(Outer, value, 16 * 1024)), expected);
    }
  }
});

test('a copy survives the next encoding; a borrowed view is reused by it; large ones are never borrowed', () => {
  const a = { payload: Buffer.alloc(10, 1) };
  const b = { payload: Buffer.alloc(10, 2) };
  const owned = encodeMessage(Outer, a);
  const borrowed = encodeMessage(Outer, a, 1024);
  encodeMessage(Outer, b);
  assert.equal([...owned.subarray(2)], Array(10).fill(1), 'a copy is its own');
  assert.equal([...borrowed.subarray(2)], Array(10).fill(2), 'a view shows the next encoding: its caller copies it first');
  const large = encodeMessage(Outer, { payload: Buffer.alloc(2000, 5) }, 1024);
  encodeMessage(Outer, b, 1024);
  assert.ok(
    large.subarray(3).every((x) => x === 5),
    'an encoding of at least borrowBelow bytes is a copy',
  );
});

test('an encoding that throws leaves the next one whole; one nested in another gets its own writer', () => {
  assert.throws(() =>
    encodeMessage(Outer, {
      inner: { name: 'x', ids: [1] },
      list: [
        {
          get name(): string {
            throw new Error('getter');
          },
        },
      ],
    }),
  );
  const value = samples[3]!;
  assert.equal(Buffer.from(encodeMessage(Outer, value)), Buffer.from(Outer.encode(value).finish()));
  // A getter that encodes another message while this one is being encoded.
  let nested: Uint8Array | undefined;
  const outer = {
    inner: { ids: [9] },
    get payload(): Uint8Array {
      nested = encodeMessage(Outer, samples[2]!);
      return Buffer.alloc(5, 9);
    },
  };
  const bytes = encodeMessage(Outer, outer);
  assert.equal(Buffer.from(nested!), Buffer.from(Outer.encode(samples[2]!).finish()));
  assert.equal(Buffer.from(bytes), Buffer.from(Outer.encode({ inner: { ids: [9] }, payload: Buffer.alloc(5, 9) }).finish()));
});

test("64-bit fields as bigints and decimal strings (a service's prepared types): as their own encoder writes them", () => {
  const type = Values.methods.inline.requestType;
  for (const scalars of [{ fUint64: 18_446_744_073_709_551_615n, fInt64: -5n }, { fInt64: '42', fUint64: 7n }, { fInt64: 3 }]) {
    const value = { scalars } as unknown as Record<string, unknown>;
    const expected = Buffer.from(type.encode(value as never).finish());
    assert.equal(Buffer.from(encodeMessage(type, value)), expected);
    assert.equal(Buffer.from(encodeMessage(type, value, 1024)), expected);
    assert.equal(type.decode(encodeMessage(type, value)).scalars!.fInt64, type.decode(expected).scalars!.fInt64);
  }
});

test.run();
