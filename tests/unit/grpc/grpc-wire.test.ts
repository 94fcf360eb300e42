import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status } from '../../../src/index.js';
import {
  acceptsGzip,
  encodeStatusMessage,
  GrpcFault,
  GrpcMessageReader,
  messagePrefix,
  parsePath,
  parseTimeout,
  readRequestMetadata,
  writeMetadata,
} from '../../../src/grpc/grpc-wire.js';

const test = suite('grpc-wire');

test('paths: /package.Service/Method and nothing else', () => {
  assert.equal(parsePath('/bench.v1.Bench/Echo'), { service: 'bench.v1.Bench', method: 'Echo' });
  for (const bad of [undefined, '', '/', '//Echo', '/bench.v1.Bench/', '/a/b/c', 'bench.v1.Bench/Echo']) assert.is(parsePath(bad), undefined, String(bad));
});

test('grpc-timeout: every unit, rounded up to whole ms; malformed ones are INTERNAL', () => {
  const rows: Array<[string, number]> = [
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['250m', 250],
    ['1500u', 2],
    ['1u', 1],
    ['1n', 1],
    ['99999999H', 99_999_999 * 3_600_000],
  ];
  for (const [value, ms] of rows) assert.is(parseTimeout(value), ms, value);
  for (const bad of ['', '10', 'm', '123456789S', '1.5S', '-1S', '10s ', '10 S']) {
    assert.throws(
      () => parseTimeout(bad),
      (e: unknown) => e instanceof GrpcFault && e.status === Status.INTERNAL,
      bad,
    );
  }
});

test('grpc-accept-encoding: gzip in a list, repeated or not', () => {
  assert.ok(acceptsGzip('identity,deflate,gzip'));
  assert.ok(acceptsGzip(['identity', ' gzip']));
  assert.not.ok(acceptsGzip('identity'));
  assert.not.ok(acceptsGzip(undefined));
});

test('request metadata: application headers only; -bin stays base64; the key header is the key', () => {
  const { metadata, key } = readRequestMetadata({
    ':path': '/a.B/C',
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': '1S',
    'grpc-accept-encoding': 'gzip',
    'user-agent': 'grpc-node-js/1.14',
    'x-tenant': 'acme',
    'x-blob-bin': 'AQID',
    'x-many': ['a', 'b'],
    'ringrpc-key': 'user-7',
  });
  assert.equal(metadata, { 'user-agent': 'grpc-node-js/1.14', 'x-tenant': 'acme', 'x-blob-bin': 'AQID', 'x-many': 'a,b' });
  assert.is(key, 'user-7');
  assert.is(readRequestMetadata({}).key, '');
});

test('response metadata: reserved names, invalid names and non-ASCII values are left out', () => {
  const headers = writeMetadata(
    { 'x-ok': 'yes', 'grpc-status': '0', 'content-type': 'text/plain', 'X-Upper': 'no', 'x-utf8': 'naïve', 'x-bin': 'AAEC/w==' },
    { ':status': 200 },
  );
  assert.equal(headers, { ':status': 200, 'x-ok': 'yes', 'x-bin': 'AAEC/w==' });
  assert.equal(writeMetadata(undefined, { a: 1 }), { a: 1 });
});

test('grpc-message: percent-encoded UTF-8 and %, printable ASCII as it is', () => {
  assert.is(encodeStatusMessage('plain message: ok!'), 'plain message: ok!');
  assert.is(encodeStatusMessage('100%'), '100%25');
  assert.is(encodeStatusMessage('naïve\n'), 'na%C3%AFve%0A');
  assert.is(decodeURIComponent(encodeStatusMessage('日本 — 50% off')), '日本 — 50% off');
});

test('message reader: a message split over many chunks, the prefix split too', () => {
  const body = Buffer.from('hello, world');
  const framed = Buffer.concat([messagePrefix(false, body.length), body]);
  const reader = new GrpcMessageReader(1024);
  for (let i = 0; i < framed.length; i++) reader.push(framed.subarray(i, i + 1));
  const message = reader.end()!;
  assert.is(message.compressed, false);
  assert.is(message.body.toString(), 'hello, world');
  const empty = new GrpcMessageReader(1024);
  empty.push(messagePrefix(true, 0));
  assert.equal(empty.end(), { compressed: true, body: Buffer.alloc(0) }, 'an empty message is a message');
});

test('message reader: the limit is checked at the prefix, before any byte of the body', () => {
  const declared: number[] = [];
  const reader = new GrpcMessageReader(100, (n) => declared.push(n));
  assert.throws(
    () => reader.push(messagePrefix(false, 101)),
    (e: unknown) => e instanceof GrpcFault && e.status === Status.RESOURCE_EXHAUSTED && /101 bytes is larger than the server's limit of 100/.test(e.message),
  );
  assert.equal(declared, [], 'never reserved');
  const ok = new GrpcMessageReader(100, (n) => declared.push(n));
  ok.push(messagePrefix(false, 100));
  assert.equal(declared, [100]);
  assert.is(ok.pendingBytes, 100);
});

test('message reader: faults of a unary request', () => {
  const fault = (chunks: Buffer[], pattern: RegExp): void => {
    const reader = new GrpcMessageReader(1024);
    assert.throws(
      () => {
        for (const c of chunks) reader.push(c);
        reader.end();
      },
      (e: unknown) => e instanceof GrpcFault && e.status === Status.INTERNAL && pattern.test(e.message),
      String(pattern),
    );
  };
  fault([Buffer.from([2, 0, 0, 0, 0])], /invalid compressed flag 2/);
  fault([Buffer.from([0, 0, 0])], /ended inside a message/);
  fault([messagePrefix(false, 5), Buffer.from('abc')], /ended inside a message/);
  fault([messagePrefix(false, 0), messagePrefix(false, 0)], /a second request message/);
  assert.is(new GrpcMessageReader(1024).end(), undefined, 'no message: the caller says what that means');
});

test('message reader, streaming: each message to onMessage, any number of them', () => {
  const seen: string[] = [];
  const reader = new GrpcMessageReader(1024, undefined, (m) => seen.push(m.body.toString()));
  const two = Buffer.concat([messagePrefix(false, 1), Buffer.from('a'), messagePrefix(false, 2), Buffer.from('bc')]);
  reader.push(two);
  reader.push(Buffer.concat([messagePrefix(false, 1), Buffer.from('d')]));
  reader.end();
  assert.equal(seen, ['a', 'bc', 'd']);
});

test('message reader: any split of a stream of messages reads the same messages', () => {
  const messages = Array.from({ length: 20 }, (_, i) => Buffer.alloc(i * 7, i));
  const stream = Buffer.concat(messages.flatMap((m, i) => [messagePrefix(i % 3 === 0, m.length), m]));
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const seen: Buffer[] = [];
    const reader = new GrpcMessageReader(1024, undefined, (m) => seen.push(m.body));
    for (let at = 0; at < stream.length; ) {
      const n = 1 + random(round % 2 === 0 ? 8 : 200);
      reader.push(stream.subarray(at, at + n));
      at += n;
    }
    reader.end();
    assert.equal(
      seen.map((b) => b.toString('hex')),
      messages.map((b) => b.toString('hex')),
    );
  }
});

test.run();
