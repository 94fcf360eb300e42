import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { createServer, Status } from '../../src/index.js';
import { RINGRPC_ALPN } from '../../src/internal.js';
import { standardRoot } from '../../src/grpc/standard-protos.js';
import { Bench, benchClient, startBenchServer } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { grpcCall, grpcClient } from '../helpers/grpc-client.js';
import { frameMessage, rawCall } from '../helpers/raw-grpc.js';
import { load } from '../helpers/load.js';
import { sleep, until } from '../helpers/tcp.js';
import { spawnServe, waitForOutput } from '../helpers/child.js';
import { closeAfterClients } from '../helpers/server-close.js';

const test = suite('grpc lifecycle');
const pem = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}.pem`, import.meta.url));
const health = standardRoot().lookupType('grpc.health.v1.HealthCheckRequest');
const healthReply = standardRoot().lookupType('grpc.health.v1.HealthCheckResponse');

test('rolling shutdown under grpc-js load: the two-step GOAWAY and the drain lose no call', async () => {
  let a = await startBenchServer();
  let b = await startBenchServer();
  // One grpc-js channel over both servers, round robin: a server that goes away takes no call with it.
  const client = new grpc.Client(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
  const call = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        '/bench.v1.Bench/Sleep',
        (r: Buffer) => r,
        (r: Buffer) => r,
        Buffer.from([0x08, 0x05]), // SleepRequest { ms: 5 }
        (err, reply) => (err ? reject(err) : resolve(reply)),
      );
    });
  const run = load(call, 64);
  try {
    await sleep(200);
    await a.server.shutdown({ graceMs: 5000 });
    const taken = a.server.stats().methods['bench.v1.Bench/Sleep']!;
    assert.ok(taken.ok > 0, 'the first server served before it went');
    assert.is(taken.inflight, 0);
    assert.is(taken.ok, taken.requests, 'every call it took was answered OK');
    a = await startBenchServer({ port: a.port });
    await until(() => (a.server.stats().methods['bench.v1.Bench/Sleep']?.ok ?? 0) > 0, 10_000, 'the client to use the restarted server');
    await b.server.shutdown({ graceMs: 5000 });
    b = await startBenchServer({ port: b.port });
    await until(() => (b.server.stats().methods['bench.v1.Bench/Sleep']?.ok ?? 0) > 0, 10_000, 'the client to use the second restarted server');
    await run.stop();
    assert.equal(
      run.tally.failed.map((e) => e.message),
      [],
    );
    assert.ok(run.tally.ok > 200, `${run.tally.ok} calls succeeded`);
  } finally {
    await run.stop();
    client.close();
    await Promise.all([closeAfterClients(a.server), closeAfterClients(b.server)]);
  }
});

test('shutdown with a gRPC call in flight: the call is answered, then the session closes', async () => {
  const { server, port } = await startBenchServer();
  const client = grpcClient(`127.0.0.1:${port}`);
  const slow = grpcCall(client, 'Sleep', { ms: 300 });
  await until(() => server.stats().inflight === 1, 2000, 'the call to be taken');
  await server.shutdown({ graceMs: 5000 });
  assert.is((await slow).error, undefined);
  await until(() => server.stats().connections.open === 0, 2000, 'the session to close');
  client.close();
});

test('health: SERVING for the server and each service it serves, NOT_FOUND for others; refused once shutdown begins', async () => {
  const { server, port } = await startBenchServer();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const check = async (service: string) => {
    const r = await rawCall(session, '/grpc.health.v1.Health/Check', [frameMessage(health.encode({ service }).finish())]);
    return {
      grpcStatus: r.grpcStatus,
      status: r.grpcStatus === 0 ? (healthReply.decode(r.data.subarray(5)) as unknown as { status: number }).status : undefined,
    };
  };
  assert.equal(await check(''), { grpcStatus: 0, status: 1 });
  assert.equal(await check('bench.v1.Bench'), { grpcStatus: 0, status: 1 });
  assert.equal(await check('grpc.health.v1.Health'), { grpcStatus: 0, status: 1 });
  assert.equal(await check('no.Such'), { grpcStatus: Status.NOT_FOUND, status: undefined });
  // Once shutdown begins, a check on an open connection is never answered SERVING: node's
  // HTTP/2 refuses every stream that follows its first GOAWAY (REFUSED_STREAM, which a gRPC
  // client may send again elsewhere), and new connections are not accepted.
  const held = rawCall(session, '/bench.v1.Bench/Sleep', [frameMessage(Buffer.from([0x08, 0xc8, 0x01]))]); // 200 ms
  await until(() => server.stats().inflight === 1, 2000, 'the held call');
  const closing = server.shutdown({ graceMs: 5000 });
  const during = await rawCall(session, '/grpc.health.v1.Health/Check', [frameMessage(health.encode({}).finish())]);
  assert.ok(during.grpcStatus === undefined && during.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM, 'refused, never run');
  assert.is((await held).grpcStatus, 0, 'the call taken before is answered');
  await closing;
  session.close();

  const off = await startBenchServer({ grpcHealth: false });
  const s2 = http2.connect(`http://127.0.0.1:${off.port}`);
  s2.on('error', () => {});
  const r = await rawCall(s2, '/grpc.health.v1.Health/Check', [frameMessage(health.encode({}).finish())]);
  assert.is(r.grpcStatus, Status.UNIMPLEMENTED, 'grpcHealth: false');
  s2.close();
  await closeAfterClients(off.server);
});

test('reflection lists the services and hands out their schema (v1 and v1alpha), as grpcurl asks', async () => {
  const { server, port } = await startBenchServer();
  const root = standardRoot();
  const Request = root.lookupType('grpc.reflection.v1.ServerReflectionRequest');
  const Response = root.lookupType('grpc.reflection.v1.ServerReflectionResponse');
  const { FileDescriptorProto } = (await import('protobufjs/ext/descriptor/index.js')).default as unknown as {
    FileDescriptorProto: {
      decode(b: Uint8Array): { name: string; package: string; dependency: string[]; service: Array<{ name: string; method: Array<{ name: string }> }> };
    };
  };
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  for (const version of ['v1', 'v1alpha']) {
    const stream = client.makeBidiStreamRequest(
      `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
      (m: object) => Buffer.from(Request.encode(m).finish()),
      (b: Buffer) => Response.toObject(Response.decode(b), { oneofs: true }) as Record<string, any>,
    );
    const replies: Record<string, any>[] = [];
    stream.on('data', (r: Record<string, any>) => replies.push(r));
    const ended = once(stream, 'status');
    stream.write({ list_services: '' });
    stream.write({ file_containing_symbol: 'bench.v1.Bench' });
    stream.write({ file_containing_symbol: 'no.Such' });
    stream.write({ file_by_filename: 'bench/v1.proto' });
    stream.end();
    const [status] = (await ended) as [grpc.StatusObject];
    assert.is(status.code, Status.OK);
    assert.is(replies.length, 4, 'one answer per request');
    const names = replies[0]!['list_services_response'].service.map((s: { name: string }) => s.name);
    assert.equal(names.sort(), ['bench.v1.Bench', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
    const files = replies[1]!['file_descriptor_response'].file_descriptor_proto.map((b: Uint8Array) => FileDescriptorProto.decode(b));
    const bench = files.find((f: { package: string }) => f.package === 'bench.v1');
    assert.is(bench.name, 'bench/v1.proto');
    assert.equal(
      bench.service[0].method.map((m: { name: string }) => m.name),
      ['Echo', 'Work', 'Sleep', 'Tally', 'Stream', 'Sum', 'Chat'],
    );
    assert.is(replies[2]!['error_response'].error_code, Status.NOT_FOUND);
    assert.ok(replies[3]!['file_descriptor_response'].file_descriptor_proto.length >= 1);
  }
  client.close();
  await closeAfterClients(server);

  const off = await startBenchServer({ grpcReflection: false });
  const s2 = http2.connect(`http://127.0.0.1:${off.port}`);
  s2.on('error', () => {});
  const r = await rawCall(s2, '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', [frameMessage(Request.encode({ list_services: '' }).finish())]);
  assert.is(r.grpcStatus, Status.UNIMPLEMENTED, 'grpcReflection: false');
  s2.close();
  await closeAfterClients(off.server);
});

test('idle eviction and maxConnections cover HTTP/2 connections', async () => {
  const { server, port } = await startBenchServer({ heartbeatIntervalMs: 50, heartbeatMissLimit: 1, maxConnections: 2 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await rawCall(session, '/bench.v1.Bench/Echo', [frameMessage(new Uint8Array(0))]);
  const pinged = await new Promise<boolean>((resolve) => session.ping((err) => resolve(err === null)));
  assert.ok(pinged, 'an HTTP/2 PING is answered');
  const closed = once(session, 'close');
  await closed;
  assert.is(server.stats().connections.idleClosed, 1, 'an idle HTTP/2 connection is closed like an idle ringrpc one');

  const ringrpc = benchClient(`127.0.0.1:${port}`);
  await ringrpc.echo({});
  const first = http2.connect(`http://127.0.0.1:${port}`);
  first.on('error', () => {});
  await rawCall(first, '/bench.v1.Bench/Echo', [frameMessage(new Uint8Array(0))]);
  // One too many is refused at once, before it sends anything, with ringrpc's GOAWAY frame
  // (the protocol cannot be told yet): to an HTTP/2 client, a protocol error.
  const third = http2.connect(`http://127.0.0.1:${port}`);
  let thirdError: Error | undefined;
  third.on('error', (e) => (thirdError = e));
  await new Promise((resolve) => third.on('close', resolve));
  assert.match(String(thirdError?.message), /Protocol error/);
  assert.is(server.stats().connections.refused, 1);
  first.close();
  await ringrpc.$close();
  await closeAfterClients(server);

  // Under TLS, ALPN names the protocol before a byte is read: an HTTP/2 GOAWAY, then.
  const secure = await startBenchServer({ maxConnections: 1, tls: { cert: pem('server'), key: pem('server-key') } });
  const one = grpcClient(`localhost:${secure.port}`, {}, grpc.credentials.createSsl(pem('ca')));
  assert.is((await grpcCall(one, 'Echo', {})).error, undefined);
  const two = http2.connect(`https://localhost:${secure.port}`, { ca: pem('ca') });
  two.on('error', () => {});
  const [code, , data] = (await once(two, 'goaway')) as [number, number, Buffer];
  assert.is(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.is(data.toString(), 'server is at its limit of 1 connections');
  two.destroy();
  one.close();
  await closeAfterClients(secure.server);
});

test('TLS: ALPN h2 is gRPC, ringrpc/1 (or none) is ringrpc, on one port', async () => {
  const { server, port } = await startBenchServer({ tls: { cert: pem('server'), key: pem('server-key') } });
  const client = grpcClient(`localhost:${port}`, {}, grpc.credentials.createSsl(pem('ca')));
  const r = await grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from('encrypted') });
  assert.is(r.reply?.payload.toString(), 'encrypted');
  const ringrpc = benchClient(`localhost:${port}`, { tls: { ca: pem('ca') } });
  assert.is(Buffer.from((await ringrpc.echo({ payload: Buffer.from('too') })).payload).toString(), 'too');
  const sockets: tls.TLSSocket[] = [];
  for (const [offered, chosen] of [
    [['h2'], 'h2'],
    [[RINGRPC_ALPN], RINGRPC_ALPN],
    [['h2', RINGRPC_ALPN], 'h2'],
  ] as const) {
    const socket = tls.connect({ port, host: '127.0.0.1', ca: pem('ca'), servername: 'localhost', ALPNProtocols: [...offered] });
    await once(socket, 'secureConnect');
    assert.is(socket.alpnProtocol, chosen, `offered ${offered.join(', ')}`);
    socket.on('error', () => {});
    sockets.push(socket);
  }
  await until(() => server.stats().connections.grpc === 3, 2000, 'grpc-js and the two sockets that chose h2 to be gRPC connections');
  assert.is(server.stats().connections.tlsFailed, 0);
  for (const socket of sockets) socket.destroy();
  client.close();
  await ringrpc.$close();
  await closeAfterClients(server);
});

test('mutual TLS over gRPC: the handler sees the client certificate, on the worker lane too', async () => {
  const server = createServer({
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    tls: { cert: pem('server'), key: pem('server-key'), ca: pem('ca'), requestCert: true },
  }).addService(Bench, laneHandlers, { lanes: { echo: 'worker' }, workerModule: 'tests/fixtures/lane-handlers.ts' });
  const { port } = await server.listen();
  const client = grpcClient(`localhost:${port}`, {}, grpc.credentials.createSsl(pem('ca'), pem('client-key'), pem('client')));
  const r = await grpcCall(client, 'Echo', {}, { metadata: { 'x-action': 'whoami' } });
  assert.is(r.error, undefined);
  assert.is(r.headers['cert-cn'], 'ringrpc test client', 'the certificate subject reaches the handler');
  assert.is(r.headers['main'], 'false', 'it ran in a worker thread');
  const stranger = grpcClient(`localhost:${port}`, {}, grpc.credentials.createSsl(pem('ca')));
  assert.is((await grpcCall(stranger, 'Echo', {}, { deadlineMs: 3000 })).error?.code, Status.UNAVAILABLE, 'no certificate: refused');
  stranger.close();
  client.close();
  await closeAfterClients(server);
});

test('ringrpc serve answers gRPC clients; with --no-grpc it does not', async () => {
  for (const flags of [[], ['--no-grpc']]) {
    const child = spawnServe(flags, {}, 'dist/examples/bench/handlers.js'); // compiled: it starts sooner
    const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
    const client = grpcClient(`${host}:${port}`);
    const r = await grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from('cli') }, { deadlineMs: 5000 });
    if (flags.length === 0) assert.is(r.reply?.payload.toString(), 'cli');
    else assert.is(r.error?.code, Status.UNAVAILABLE);
    client.close();
    child.process.kill('SIGTERM');
    assert.is(await child.exited, 0);
  }
});

test.run();
