import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { Status } from '../../src/index.js';
import { Bench, benchClient, startBenchServer } from '../helpers/bench-server.js';
import { frameMessage, rawCall } from '../helpers/raw-grpc.js';
import { grpcCall, grpcClient } from '../helpers/grpc-client.js';
import { until } from '../helpers/tcp.js';
import { closeAfterClients } from '../helpers/server-close.js';

const test = suite('grpc bad input');
const ECHO = '/bench.v1.Bench/Echo';
const echoRequest = (payload: Uint8Array): Uint8Array => Bench.methods.echo.requestType.encode({ payload }).finish();
const decodeEcho = (data: Buffer): Buffer =>
  Buffer.from((Bench.methods.echo.responseType.decode(data.subarray(5)) as unknown as { payload: Uint8Array }).payload);

async function connect(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await once(session, 'connect');
  return session;
}

// Each row: what the client sends, and the status it must get; the connection keeps serving.
const rows: Array<[string, string, () => Uint8Array[], http2.OutgoingHttpHeaders, Status]> = [
  ['an unknown method', '/bench.v1.Bench/Nope', () => [frameMessage(new Uint8Array(0))], {}, Status.UNIMPLEMENTED],
  ['an unknown service', '/no.Such/Thing', () => [frameMessage(new Uint8Array(0))], {}, Status.UNIMPLEMENTED],
  ['a path that is not /Service/Method', '/just-a-path', () => [], {}, Status.UNIMPLEMENTED],
  ['a length prefix longer than the message', ECHO, () => [frameMessage(Buffer.from('abc'), { declared: 100 })], {}, Status.INTERNAL],
  ['half a length prefix', ECHO, () => [Buffer.from([0, 0, 0])], {}, Status.INTERNAL],
  ['a compressed flag that is neither 0 nor 1', ECHO, () => [frameMessage(echoRequest(Buffer.from('x')), { flag: 7 })], {}, Status.INTERNAL],
  ['no message at all', ECHO, () => [], {}, Status.INTERNAL],
  ['two messages on a unary call', ECHO, () => [frameMessage(echoRequest(Buffer.from('1'))), frameMessage(echoRequest(Buffer.from('2')))], {}, Status.INTERNAL],
  ['a message that does not decode as the request type', ECHO, () => [frameMessage(Buffer.from([0x0a, 0x7f, 1]))], {}, Status.INTERNAL],
  [
    'a compressed message under grpc-encoding identity',
    ECHO,
    () => [frameMessage(gzipSync(echoRequest(Buffer.from('z'))), { compressed: true })],
    {},
    Status.INTERNAL,
  ],
  [
    'a compressed message that does not unzip',
    ECHO,
    () => [frameMessage(Buffer.from('not gzip'), { compressed: true })],
    { 'grpc-encoding': 'gzip' },
    Status.INTERNAL,
  ],
  ['an encoding the server does not have', ECHO, () => [frameMessage(echoRequest(Buffer.from('s')))], { 'grpc-encoding': 'snappy' }, Status.UNIMPLEMENTED],
  ['a malformed grpc-timeout', ECHO, () => [frameMessage(echoRequest(Buffer.from('t')))], { 'grpc-timeout': '10 seconds' }, Status.INTERNAL],
  ['a key over 256 bytes', ECHO, () => [frameMessage(echoRequest(Buffer.from('k')))], { 'ringrpc-key': 'k'.repeat(300) }, Status.INVALID_ARGUMENT],
];

test('every row of bad input gets the gRPC status a gRPC client expects, and the connection keeps serving', async () => {
  const { server, port } = await startBenchServer();
  const session = await connect(port);
  for (const [what, path, chunks, headers, status] of rows) {
    const r = await rawCall(session, path, chunks(), headers);
    assert.is(r.httpStatus, 200, what);
    assert.is(r.grpcStatus, status, `${what}: ${r.grpcMessage}`);
    assert.ok((r.grpcMessage ?? '').length > 0, `${what}: the status says why`);
    if (status === Status.UNIMPLEMENTED && r.headers['grpc-accept-encoding'] !== undefined) assert.match(String(r.headers['grpc-accept-encoding']), 'gzip');
  }
  const ok = await rawCall(session, ECHO, [frameMessage(echoRequest(Buffer.from('still here')))]);
  assert.is(ok.grpcStatus, Status.OK);
  assert.is(decodeEcho(ok.data).toString(), 'still here');
  assert.is(server.stats().connections.open, 1, 'one connection, never closed by the bad input');
  session.close();
  await closeAfterClients(server);
});

test('requests that are not gRPC get HTTP answers: 405 for a GET, 415 for another content type', async () => {
  const { server, port } = await startBenchServer();
  const session = await connect(port);
  assert.is((await rawCall(session, ECHO, [], { ':method': 'GET' })).httpStatus, 405);
  assert.is((await rawCall(session, ECHO, [Buffer.from('{}')], { 'content-type': 'application/json' })).httpStatus, 415);
  assert.is((await rawCall(session, ECHO, [frameMessage(echoRequest(Buffer.from('p')))], { 'content-type': 'application/grpc+proto' })).grpcStatus, Status.OK);
  session.close();
  await closeAfterClients(server);
});

test('an oversized message is RESOURCE_EXHAUSTED from its length prefix, never buffered; the upload is cut short', async () => {
  const { server, port } = await startBenchServer({ maxFrameBytes: 64 * 1024 });
  const session = await connect(port);
  const big = frameMessage(echoRequest(Buffer.alloc(1024 * 1024, 1)));
  const r = await rawCall(session, ECHO, [big]);
  assert.is(r.grpcStatus, Status.RESOURCE_EXHAUSTED);
  assert.match(r.grpcMessage!, /larger than the server's limit of 65536 bytes/);
  assert.ok(server.stats().bytesIn < big.length, `the rest of the message was not read (${server.stats().bytesIn} bytes in)`);
  assert.is(server.stats().bufferedInBytes, 0);
  // grpc-js sees the same, with the server's limit named.
  const client = grpcClient(`127.0.0.1:${port}`);
  const viaGrpcJs = await grpcCall(client, 'Echo', { payload: Buffer.alloc(100 * 1024) });
  assert.is(viaGrpcJs.error!.code, Status.RESOURCE_EXHAUSTED);
  assert.is((await grpcCall(client, 'Echo', { payload: Buffer.alloc(10) })).error, undefined, 'the connection serves on');
  client.close();
  session.close();
  await closeAfterClients(server);
});

test('messages still arriving count against maxBufferedInputBytes: one that would pass it is refused', async () => {
  const { server, port } = await startBenchServer({ maxBufferedInputBytes: 100_000 });
  const session = await connect(port);
  // A stream that declares 80 kB and sends part of it holds its reservation...
  const holding = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
  holding.on('error', () => {});
  holding.write(frameMessage(Buffer.alloc(10), { declared: 80_000 }));
  await until(() => server.stats().bufferedInBytes === 80_000, 2000, 'the reservation');
  // ...so another that declares 80 kB more is refused at its prefix.
  const refused = await rawCall(session, ECHO, [frameMessage(Buffer.alloc(10), { declared: 80_000 })]);
  assert.is(refused.grpcStatus, Status.RESOURCE_EXHAUSTED);
  assert.match(refused.grpcMessage!, /maxBufferedInputBytes 100000/);
  holding.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => server.stats().bufferedInBytes === 0, 2000, 'the reservation to go with its stream');
  session.close();
  await closeAfterClients(server);
});

test('a request dribbled slower than frameTimeoutMs is answered DEADLINE_EXCEEDED, its slot freed', async () => {
  const { server, port } = await startBenchServer({ frameTimeoutMs: 200 });
  const session = await connect(port);
  const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
  stream.on('error', () => {});
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on('response', (h) => (trailers = h));
  stream.resume();
  stream.write(frameMessage(Buffer.alloc(10), { declared: 1000 }));
  await once(stream, 'close');
  assert.is(Number(trailers['grpc-status']), Status.DEADLINE_EXCEEDED);
  assert.match(String(trailers['grpc-message']), 'frameTimeoutMs 200');
  assert.is(server.stats().inflight, 0);
  assert.is(server.stats().bufferedInBytes, 0);
  session.close();
  await closeAfterClients(server);
});

test('bytes that are neither protocol, or an HTTP/2 connection gone bad, never stop the server', async () => {
  const { server, port } = await startBenchServer();
  for (const garbage of [
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\ngarbage that is not a SETTINGS frame'),
    Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    Buffer.from('PX'),
  ]) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    await once(socket, 'connect');
    socket.write(garbage);
    await once(socket, 'close');
  }
  const client = benchClient(`127.0.0.1:${port}`);
  assert.is(Buffer.from((await client.echo({ payload: Buffer.from('ok') })).payload).toString(), 'ok');
  const grpcJs = grpcClient(`127.0.0.1:${port}`);
  assert.is((await grpcCall(grpcJs, 'Echo', {})).error, undefined);
  grpcJs.close();
  await client.$close();
  await closeAfterClients(server);
});

test('grpc: false serves ringrpc only: an HTTP/2 client is refused, a ringrpc one served', async () => {
  const { server, port } = await startBenchServer({ grpc: false });
  const client = grpcClient(`127.0.0.1:${port}`);
  const r = await grpcCall(client, 'Echo', {}, { deadlineMs: 2000 });
  assert.is(r.error!.code, Status.UNAVAILABLE);
  const ringrpc = benchClient(`127.0.0.1:${port}`);
  await ringrpc.echo({});
  assert.is(server.stats().connections.grpc, 0);
  assert.ok(server.stats().connections.faultClosed >= 1, 'the HTTP/2 preface is a protocol fault to a ringrpc-only server');
  client.close();
  await ringrpc.$close();
  await server.close(); // the refused grpc-js client's last connection attempt may still be open
});

test.run();
