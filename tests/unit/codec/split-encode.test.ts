import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type protobuf from 'protobufjs';
import { encodeSplit } from '../../../src/internal.js';
import { Values } from '../../fixtures/protos/values/v1/generated.js';
import { Bench } from '../../../examples/bench/generated.js';

const test = suite('split-encode');

const root = (Values.methods.inline.requestType as protobuf.Type).root;
const Scalars = root.lookupType('values.v1.Scalars');
const Oneofs = root.lookupType('values.v1.Oneofs');
const EchoReply = Bench.methods.echo.responseType as protobuf.Type;

const LARGE = 64 * 1024;
const joined = (encoded: Uint8Array | Uint8Array[]): Buffer => (encoded instanceof Uint8Array ? Buffer.from(encoded) : Buffer.concat(encoded));

function patterned(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31) & 0xff;
  return b;
}

test('an Echo reply with a large payload: the payload itself is the last piece, and the pieces are the plain encoding', () => {
  const payload = patterned(300_000);
  const encoded = encodeSplit(EchoReply, { payload }, LARGE);
  assert.ok(Array.isArray(encoded));
  assert.is(encoded.at(-1), payload, 'the caller’s buffer, not a copy');
  assert.ok(joined(encoded).equals(Buffer.from(EchoReply.encode({ payload }).finish())), 'one field: byte for byte what protobufjs writes');
});

test('a field below the threshold: one buffer, the plain encoding', () => {
  const payload = patterned(LARGE - 1);
  const encoded = encodeSplit(EchoReply, { payload }, LARGE);
  assert.ok(encoded instanceof Uint8Array);
  assert.ok(Buffer.from(encoded).equals(Buffer.from(EchoReply.encode({ payload }).finish())));
});

test('lengths of 1 to 4 varint bytes around the threshold', () => {
  for (const n of [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
    const payload = patterned(n);
    const encoded = encodeSplit(EchoReply, { payload }, 1);
    assert.ok(joined(encoded).equals(Buffer.from(EchoReply.encode({ payload }).finish())), `${n} bytes`);
  }
});

test('a message of every scalar kind with a large bytes field decodes to the same message', () => {
  const value = {
    fDouble: -1.5,
    fInt32: -7,
    fInt64: -9_223_372_036_854_775_808n,
    fUint64: 18_446_744_073_709_551_615n,
    fSint32: -3,
    fString: 'héllo',
    fBytes: patterned(100_000),
    fEnum: 1,
    fMessage: { name: 'n', id: 42n },
  };
  assert.is(Scalars.verify(value), null);
  const encoded = encodeSplit(Scalars, value, LARGE);
  assert.ok(Array.isArray(encoded));
  assert.is(encoded.at(-1), value.fBytes);
  const viaSplit = Scalars.decode(joined(encoded)) as unknown as Record<string, unknown>;
  const plain = Scalars.decode(Scalars.encode(value).finish()) as unknown as Record<string, unknown>;
  assert.equal({ ...viaSplit, fBytes: undefined }, { ...plain, fBytes: undefined });
  assert.ok((viaSplit['fBytes'] as Buffer).equals(value.fBytes));
});

test('a large bytes member of a oneof, and a proto3 optional one, keep their presence', () => {
  const value = { cBytes: patterned(70_000), maybeBytes: patterned(80_000), maybeInt32: 5 };
  const encoded = encodeSplit(Oneofs, value, LARGE);
  assert.ok(Array.isArray(encoded));
  const decoded = Oneofs.decode(joined(encoded)) as unknown as Record<string, unknown>;
  assert.is(decoded['choice'], 'cBytes');
  assert.ok((decoded['cBytes'] as Buffer).equals(value.cBytes));
  assert.ok((decoded['maybeBytes'] as Buffer).equals(value.maybeBytes));
  assert.is(decoded['maybeInt32'], 5);
  assert.is(value.cBytes.length, 70_000, 'the caller’s object is left as it was');
  assert.ok('cBytes' in value);
});

test.run();
