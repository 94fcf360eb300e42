import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import protobuf from 'protobufjs';
import { defineService, loadServices, findService, messageFromJson, messageToJson, createServer, RpcError, Status } from '../../../src/index.js';
import { generateTypes } from '../../../src/internal.js';
import { Bench } from '../../helpers/bench-server.js';

const test = suite('service definitions');

test('generated and dynamically loaded definitions agree', () => {
  const [dynamic] = loadServices('proto/bench/v1/bench.proto');
  assert.is(dynamic!.name, 'bench.v1.Bench');
  for (const [key, m] of Object.entries(Bench.methods)) {
    const d = dynamic!.methods[key]!;
    assert.is(d.path, m.path);
    assert.is(d.requestType.fullName, m.requestType.fullName);
    assert.is(d.localName, key);
  }
  assert.equal(Object.keys(Bench.methods), ['echo', 'work', 'sleep', 'tally', 'stream', 'sum', 'chat']);
  assert.equal(
    Object.values(Bench.methods).map((m) => m.kind),
    ['unary', 'unary', 'unary', 'unary', 'server_stream', 'client_stream', 'bidi_stream'],
  );
});

test('idempotency_level marks a method idempotent; each method has its kind, streams included', () => {
  const root = protobuf.parse(`syntax = "proto3"; package t;
    message M {}
    service S {
      rpc Get(M) returns (M) { option idempotency_level = IDEMPOTENT; }
      rpc Put(M) returns (M);
    }
    service Streamy {
      rpc Watch(M) returns (stream M);
      rpc Upload(stream M) returns (M);
      rpc Chat(stream M) returns (stream M);
    }`).root;
  const s = defineService(root, 't.S');
  assert.ok(s.methods['get']!.idempotent);
  assert.not.ok(s.methods['put']!.idempotent);
  assert.is(s.methods['get']!.kind, 'unary');
  const streamy = defineService(root, 't.Streamy');
  assert.equal(
    Object.values(streamy.methods).map((m) => `${m.name}:${m.kind}`),
    ['Watch:server_stream', 'Upload:client_stream', 'Chat:bidi_stream'],
  );
  assert.throws(() => defineService(root, 't.Nope'), /service t.Nope is not defined/);
});

test('findService lists what exists when the name is wrong', () => {
  assert.throws(
    () => findService(loadServices('proto/bench/v1/bench.proto'), 'bench.Bench'),
    /unknown service bench.Bench \(the .proto defines: bench.v1.Bench\)/,
  );
  assert.throws(() => loadServices('proto/none.proto'), /proto file proto\/none.proto does not exist/);
});

test('proto3 JSON mapping: bytes as base64, both ways; misfits are INVALID_ARGUMENT', () => {
  const type = Bench.methods.work.requestType;
  const message = messageFromJson(type, { payload: 'AAEC', rounds: 4 });
  assert.equal(messageToJson(type, message), { payload: 'AAEC', rounds: 4 });
  assert.throws(
    () => messageFromJson(type, { rounds: 'many' }),
    (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && /bench.v1.WorkRequest/.test(e.message),
  );
});

test('generateTypes covers enums, nested types, maps, repeated, int64, oneof', () => {
  const root = protobuf.parse(`syntax = "proto3"; package g;
    enum Color { RED = 0; BLUE = 1; }
    message Outer {
      message Inner { string s = 1; }
      int64 big = 1; repeated Inner items = 2; map<string, int32> counts = 3;
      oneof pick { string a = 4; Color c = 5; } Inner one = 6; optional bool flag = 7;
    }
    service G { rpc Do(Outer) returns (Outer.Inner); }`).root;
  const code = generateTypes(root, { importFrom: 'ringrpc' });
  for (const line of [
    "import { defineService, rootFromJson, type MethodDefinition } from 'ringrpc';",
    'export const Color = {',
    '  BLUE: 1,',
    'export interface Outer_Inner {',
    '  big: bigint;',
    '  items: Outer_Inner[];',
    '  counts: { [key: string]: number };',
    "    | { pick: 'a'; a: string; c?: undefined }",
    "    | { pick: 'c'; c: Color; a?: undefined }",
    '  one?: Outer_Inner;',
    '  flag?: boolean;',
    "  do: MethodDefinition<Outer, Outer_Inner, 'unary'>;",
  ])
    assert.ok(code.includes(line), `missing: ${line}`);
});

test('addService refuses a handler key that names no method, and non-functions', () => {
  const server = createServer({ port: 0 });
  assert.throws(
    () => server.addService(Bench, { echoo: () => ({}) } as never),
    /implementation of bench.v1.Bench has echoo, which is not a method of it \(methods: echo, work, sleep, tally, stream, sum, chat\)/,
  );
  assert.throws(() => server.addService(Bench, { echo: 5 } as never), /handler of bench.v1.Bench\/Echo must be a function/);
  server.addService(Bench, {});
  assert.throws(() => server.addService(Bench, {}), /service bench.v1.Bench is already added/);
});

test.run();
