import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMeta, encodeMeta, MetaError, loadProto } from '../../../src/internal.js';

const test = suite('meta');
// The normative .proto, parsed by protobufjs: an independent codec to check ours against.
const Meta = loadProto('proto/ringrpc/v1/meta.proto').lookupType('ringrpc.v1.Meta');

const full = {
  service: 'bench.v1.Bench',
  method: 'Echo',
  timeoutMs: 3000,
  status: 14,
  message: 'gøne ✓',
  compression: 1,
  metadata: { 'x-trace': 'abc', empty: '' },
  lastRequestId: 0xffff_fffe,
  key: 'acct-✓',
  window: 1_048_576,
};

test('empty meta decodes to proto3 defaults', () => {
  const m = decodeMeta(Buffer.alloc(0));
  assert.equal(
    { ...m, metadata: { ...m.metadata } },
    { service: '', method: '', timeoutMs: 0, status: 0, message: '', compression: 0, metadata: {}, lastRequestId: 0, key: '', window: 0 },
  );
  assert.is(encodeMeta({}).length, 0);
});

test('round trip of every field', () => {
  const m = decodeMeta(encodeMeta(full));
  assert.equal({ ...m, metadata: { ...m.metadata } }, full);
});

test('our encoding decodes with protobufjs and the .proto', () => {
  const decoded = Meta.toObject(Meta.decode(encodeMeta(full)), { longs: Number });
  assert.equal(decoded, full);
});

test('protobufjs encoding decodes with ours', () => {
  const bytes = Meta.encode(Meta.fromObject(full)).finish();
  const m = decodeMeta(bytes);
  assert.equal({ ...m, metadata: { ...m.metadata } }, full);
});

test('unknown fields of every wire type are skipped', () => {
  const known = encodeMeta({ service: 's', method: 'm' });
  const extra = Buffer.from([
    0x78,
    0x96,
    0x01, // field 15, varint
    0x81,
    0x01,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 16, i64
    0x8a,
    0x01,
    0x02,
    0x61,
    0x62, // field 17, len
    0x95,
    0x01,
    1,
    2,
    3,
    4, // field 18, i32
  ]);
  const m = decodeMeta(Buffer.concat([extra, known]));
  assert.is(m.service, 's');
  assert.is(m.method, 'm');
});

const invalid: Array<[string, number[]]> = [
  ['truncated varint', [0x18, 0x80]],
  ['truncated string', [0x0a, 0x05, 0x61]],
  ['service with varint wire type', [0x08, 0x01]],
  ['timeout with length wire type', [0x1a, 0x01, 0x00]],
  ['key with varint wire type', [0x48, 0x01]],
  ['invalid UTF-8 in method', [0x12, 0x02, 0xc3, 0x28]],
  ['invalid UTF-8 in a metadata key', [0x3a, 0x04, 0x0a, 0x02, 0xff, 0xfe]],
  ['group wire type', [0x4b]],
  ['wire type 7', [0x4f]],
  ['field number 0', [0x00, 0x00]],
  ['truncated fixed64', [0x51, 1, 2]],
  ['varint over 10 bytes', [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
];
for (const [name, bytes] of invalid) {
  test(`rejects ${name}`, () => {
    assert.throws(
      () => decodeMeta(Buffer.from(bytes)),
      (e: unknown) => e instanceof MetaError && e.status === 13,
    );
  });
}

test('repeated service and method names: the same strings, and no look-alike or invalid bytes mistaken for them', () => {
  const names = ['Echo', 'Ecto', 'Exho', 'Eкho', 'Work', 'E', '', 'EchoEcho'];
  for (let round = 0; round < 3; round++) {
    for (const method of names) {
      const m = decodeMeta(encodeMeta({ service: `svc.${method}`, method }));
      assert.is(m.method, method);
      assert.is(m.service, `svc.${method}`);
    }
  }
  // Same length, first and last byte as the cached "Echo", not valid UTF-8: refused still.
  const echo = encodeMeta({ method: 'Echo' });
  const bad = Buffer.from(echo);
  bad[bad.indexOf(0x63)] = 0xc3; // 'c' → a lead byte with no continuation
  assert.throws(
    () => decodeMeta(bad),
    (e: unknown) => e instanceof MetaError && /UTF-8/.test(e.message),
  );
  assert.is(decodeMeta(echo).method, 'Echo');
});

test('a 10-byte varint is truncated to 32 bits, as protobuf requires for uint32', () => {
  const bytes = Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.is(decodeMeta(bytes).timeoutMs, 0xffff_ffff);
  const viaProtobufjs = Meta.decode(bytes) as unknown as { timeoutMs: number };
  assert.is(viaProtobufjs.timeoutMs, 0xffff_ffff);
});

test('the field numbers of our encoder match the .proto', () => {
  for (const field of Meta.fieldsArray) {
    const one = { [field.name]: field.map ? { k: 'v' } : field.type === 'string' ? 'x' : 1 };
    const decoded = Meta.toObject(Meta.decode(encodeMeta(one)), { enums: Number });
    assert.equal(decoded[field.name], one[field.name], field.name);
  }
});

test.run();
