import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createServer,
  prometheusText,
  RpcError,
  Status,
  statusName,
  type Server,
  type ServerOptions,
  type ServerCallInfo,
  type Lane,
} from '../../src/index.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as handlers } from '../fixtures/grpc-handlers.js';
import { work } from '../../examples/bench/handlers.js';
import { grpcCall, grpcClient } from '../helpers/grpc-client.js';
import { until } from '../helpers/tcp.js';
import { closeAfterClients } from '../helpers/server-close.js';
import { frameMessage, rawCall } from '../helpers/raw-grpc.js';
import http2 from 'node:http2';

const test = suite('grpc calls');
const MODULE = 'tests/fixtures/grpc-handlers.ts';

/**
 * A server with Echo and Sleep inline, Work on the worker lane, Tally on the actor lane; a
 * test that calls no method of a lane leaves it out (`lanes`), as its threads take a while to start.
 */
async function start(
  options: ServerOptions = {},
  lanes: Record<string, Lane> = { work: 'worker', tally: 'actor' },
): Promise<{ server: Server; address: string }> {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, actorWorkers: 1, ...options }).addService(Bench, handlers, {
    lanes,
    workerModule: MODULE,
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}` };
}

test('a grpc-js client calls Echo (inline), Work (worker lane) and Tally (actor lane, keyed by ringrpc-key)', async () => {
  const { server, address } = await start();
  const client = grpcClient(address);
  const echo = await grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from('over gRPC') });
  assert.is(echo.error, undefined);
  assert.is(echo.reply!.payload.toString(), 'over gRPC');
  const payload = Buffer.from('digest me');
  const worked = await grpcCall<{ digest: Buffer }>(client, 'Work', { payload, rounds: 100 });
  assert.ok(worked.reply!.digest.equals(Buffer.from(work(payload, 100))));
  for (const n of [1, 2, 3]) {
    const tally = await grpcCall<{ count: number }>(client, 'Tally', { seq: n }, { metadata: { 'ringrpc-key': 'k-1' } });
    assert.is(tally.reply!.count, n, 'one actor per key, its state kept between calls');
  }
  const other = await grpcCall<{ count: number }>(client, 'Tally', { seq: 1 }, { metadata: { 'ringrpc-key': 'k-2' } });
  assert.is(other.reply!.count, 1);
  const keyless = await grpcCall(client, 'Tally', { seq: 1 });
  assert.is(keyless.error!.code, Status.INVALID_ARGUMENT, 'the actor lane needs a key, as over ringrpc');
  const stats = server.stats();
  assert.is(stats.methods['bench.v1.Bench/Tally']!.requests, 5);
  assert.is(stats.methods['bench.v1.Bench/Work']!.ok, 1);
  assert.is(stats.connections.grpc, 1, 'one HTTP/2 connection');
  assert.is(stats.grpcCalls, 7);
  const metrics = prometheusText(stats);
  assert.match(metrics, /ringrpc_grpc_calls_total 7/);
  assert.match(metrics, /ringrpc_method_requests_total\{method="bench.v1.Bench\/Echo"\} 1/);
  client.close();
  await closeAfterClients(server);
});

test('both protocols on one port at once; the handler sees ctx.protocol, on every lane', async () => {
  const { server, address } = await start({}, {}); // Echo: inline
  const client = grpcClient(address);
  const ringrpc = benchClient(address);
  let ringrpcMetadata: Readonly<Record<string, string>> = {};
  const [viaGrpc] = await Promise.all([
    grpcCall(client, 'Echo', { payload: Buffer.from('a') }, { metadata: { 'x-grpc': 'context' } }),
    ringrpc.echo({ payload: Buffer.from('b') }, { metadata: { 'x-grpc': 'context' }, onMetadata: (m) => (ringrpcMetadata = m) }),
  ]);
  assert.is(viaGrpc.headers['x-protocol'], 'grpc');
  assert.is(ringrpcMetadata['x-protocol'], 'ringrpc');
  const many = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0
        ? grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from([i]) }).then((r) => r.reply!.payload)
        : ringrpc.echo({ payload: Buffer.from([i]) }).then((r) => r.payload),
    ),
  );
  assert.ok(many.every((payload, i) => payload[0] === i));
  assert.is(server.stats().connections.accepted, 2);
  assert.is(server.stats().connections.grpc, 1);
  assert.equal(
    server
      .connectionStats()
      .map((c) => c.protocol)
      .sort(),
    ['grpc', 'ringrpc'],
  );
  client.close();
  await ringrpc.$close();
  await closeAfterClients(server);

  // On the worker lane the protocol travels with the call to its thread.
  const onWorkers = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, { lanes: { echo: 'worker' }, workerModule: MODULE });
  const { port } = await onWorkers.listen();
  const workerClient = grpcClient(`127.0.0.1:${port}`);
  const fromWorker = await grpcCall(workerClient, 'Echo', { payload: Buffer.from('w') }, { metadata: { 'x-grpc': 'context' } });
  assert.is(fromWorker.headers['x-protocol'], 'grpc');
  workerClient.close();
  await closeAfterClients(onWorkers);
});

test('metadata round trip: ASCII and -bin request headers reach ctx.metadata, response metadata comes back as headers, an error carries it in trailers', async () => {
  const { server, address } = await start({}, {}); // Echo: inline
  const client = grpcClient(address);
  const ok = await grpcCall(
    client,
    'Echo',
    { payload: Buffer.alloc(0) },
    {
      metadata: { 'x-grpc': 'context', 'x-tenant': 'acme', 'x-blob-bin': Buffer.from([1, 2, 3]), 'ringrpc-key': 'k' },
      deadlineMs: 5000,
    },
  );
  const seen = JSON.parse(ok.headers['x-metadata'] as string) as Record<string, string>;
  assert.is(seen['x-tenant'], 'acme');
  assert.is(Buffer.from(seen['x-blob-bin']!, 'base64').toString('hex'), '010203', '-bin values reach the handler base64-encoded, as they travel');
  assert.is(seen['ringrpc-key'], undefined, 'the key header is the call key, not metadata');
  assert.is(seen['grpc-timeout'], undefined, 'gRPC-reserved headers are not metadata');
  assert.is(seen['content-type'], undefined);
  const deadlineIn = Number(ok.headers['x-deadline-in']);
  assert.ok(deadlineIn > 4000 && deadlineIn <= 5000, `grpc-timeout is the call's deadline (${deadlineIn} ms left)`);
  assert.ok(Buffer.isBuffer(ok.headers['x-bin']), 'a -bin response header comes back as bytes');
  assert.is((ok.headers['x-bin'] as Buffer).toString('hex'), '000102ff');
  const failed = await grpcCall(
    client,
    'Echo',
    {},
    {
      metadata: { 'x-grpc': 'fail', 'x-code': String(Status.FAILED_PRECONDITION), 'x-message-bin': Buffer.from('naïve 100% — no') },
    },
  );
  assert.is(failed.error!.code, Status.FAILED_PRECONDITION);
  assert.is(failed.error!.details, 'naïve 100% — no', 'grpc-message is percent-encoded, and decodes to the message');
  assert.is(failed.trailers['x-detail'], 'from the error');
  assert.is(failed.trailers['x-set-by-handler'], 'yes');
  client.close();
  await closeAfterClients(server);
});

test('every status a handler ends with reaches the gRPC client as the same code', async () => {
  const { server, address } = await start({}, { work: 'worker' });
  const client = grpcClient(address);
  for (let code = 1; code <= 16; code++) {
    const r = await grpcCall(client, 'Echo', {}, { metadata: { 'x-grpc': 'fail', 'x-code': String(code), 'x-message': `status ${code}` } });
    assert.is(r.error?.code, code, statusName(code));
    assert.is(r.error?.details, `status ${code}`);
  }
  // From a worker thread too (its answer comes back as a ringrpc RESPONSE frame).
  const r = await grpcCall(client, 'Work', { payload: Buffer.alloc(1), rounds: 1e9 });
  assert.is(r.error?.code, Status.INVALID_ARGUMENT);
  assert.match(r.error!.details, 'rounds must be at most');
  assert.is(server.stats().methods['bench.v1.Bench/Echo']!.errors['DATA_LOSS'], 1);
  client.close();
  await closeAfterClients(server);
});

test('a deadline is DEADLINE_EXCEEDED, and a cancel aborts the handler: ctx.signal fires, on the inline and worker lanes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-grpc-'));
  const { server, address } = await start({}, {}); // Sleep: inline (the worker lane's is workerServer)
  const workerServer = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, {
    lanes: { sleep: 'worker' },
    workerModule: MODULE,
  });
  const { port } = await workerServer.listen();
  const client = grpcClient(address);
  const late = await grpcCall(client, 'Sleep', { ms: 5000 }, { deadlineMs: 100, metadata: { 'x-marker': path.join(dir, 'late') } });
  assert.is(late.error!.code, Status.DEADLINE_EXCEEDED);
  await until(() => existsSync(path.join(dir, 'late')), 2000, 'the handler to see its deadline');
  assert.match(readFileSync(path.join(dir, 'late'), 'utf8'), /^DEADLINE_EXCEEDED/);

  for (const [name, target] of [
    ['inline', address],
    ['worker', `127.0.0.1:${port}`],
  ] as const) {
    const c = grpcClient(target);
    const marker = path.join(dir, name);
    const cancelled = grpcCall(c, 'Sleep', { ms: 5000 }, { metadata: { 'x-marker': marker }, onCall: (call) => setTimeout(() => call.cancel(), 100) });
    assert.is((await cancelled).error!.code, Status.CANCELLED);
    await until(() => existsSync(marker), 2000, `the ${name} handler's signal to fire`);
    assert.match(readFileSync(marker, 'utf8'), /^CANCELLED/, name);
    c.close();
  }
  await until(() => workerServer.stats().methods['bench.v1.Bench/Sleep']!.errors['CANCELLED'] === 1, 2000, 'the cancel to be counted');
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.inflight, 0);
  client.close();
  await Promise.all([closeAfterClients(workerServer), closeAfterClients(server)]);
});

test("the server's callTimeoutMs ends a gRPC call too: DEADLINE_EXCEEDED, the handler's signal aborted", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-grpc-'));
  const { server, address } = await start({ callTimeoutMs: 150 }, {}); // Sleep: inline
  const client = grpcClient(address);
  const marker = path.join(dir, 'limit');
  const r = await grpcCall(client, 'Sleep', { ms: 5000 }, { metadata: { 'x-marker': marker } });
  assert.is(r.error!.code, Status.DEADLINE_EXCEEDED);
  assert.match(r.error!.details, "the server's callTimeoutMs of 150 ms");
  await until(() => existsSync(marker), 2000, "the handler's signal");
  client.close();
  await closeAfterClients(server);
});

test("a client that does not list gzip gets plain replies under the server's gzip, inline and on the worker lane", async () => {
  for (const lanes of [{}, { echo: 'worker' }] as Array<Record<string, Lane>>) {
    const { server, address } = await start({ compression: 'gzip', compressionThresholdBytes: 100 }, lanes);
    const session = http2.connect(`http://${address}`);
    try {
      const payload = Buffer.alloc(64 * 1024, 'abc');
      const r = await rawCall(session, '/bench.v1.Bench/Echo', [frameMessage(Bench.methods.echo.requestType.encode({ payload }).finish())]);
      const where = JSON.stringify(lanes);
      assert.is(r.grpcStatus, Status.OK, `${where}: ${r.grpcMessage}`);
      assert.is(r.headers['grpc-encoding'], undefined, where);
      assert.is(r.data[0], 0, `${where}: the reply is not compressed`);
      const reply = Bench.methods.echo.responseType.decode(r.data.subarray(5)) as unknown as { payload: Uint8Array };
      assert.ok(Buffer.from(reply.payload).equals(payload), where);
    } finally {
      session.close();
      await closeAfterClients(server);
    }
  }
});

test('gzip both ways: a compressed request is read, a large reply goes compressed to a client that takes gzip', async () => {
  const { server, address } = await start({ compression: 'gzip', compressionThresholdBytes: 100 }, { work: 'worker' });
  const client = grpcClient(address, { 'grpc.default_compression_algorithm': 2 });
  const payload = Buffer.alloc(64 * 1024, 'abc');
  const r = await grpcCall<{ payload: Buffer }>(client, 'Echo', { payload });
  assert.ok(r.reply!.payload.equals(payload));
  const worked = await grpcCall<{ digest: Buffer }>(client, 'Work', { payload, rounds: 2 });
  assert.ok(worked.reply!.digest.equals(Buffer.from(work(payload, 2))), 'the worker lane reads a compressed request too');
  const stats = server.stats();
  assert.ok(stats.bytesIn < payload.length, `the requests arrived compressed (${stats.bytesIn} bytes in)`);
  assert.ok(stats.bytesOut < payload.length, `the reply left compressed (${stats.bytesOut} bytes out)`);
  client.close();
  await closeAfterClients(server);
});

test('10,000 concurrent calls on one HTTP/2 connection', async () => {
  const { server, address } = await start({}, {}); // Echo: inline
  const client = grpcClient(address);
  const calls = Array.from({ length: 10_000 }, (_, i) => grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from(String(i)) }));
  const results = await Promise.all(calls);
  assert.ok(results.every((r, i) => r.reply?.payload.toString() === String(i)));
  const stats = server.stats();
  assert.is(stats.connections.grpc, 1);
  assert.is(stats.methods['bench.v1.Bench/Echo']!.ok, 10_000);
  client.close();
  await closeAfterClients(server);
});

test('interceptors run for gRPC calls: they see protocol "grpc", change metadata, and refuse', async () => {
  const seen: Array<Pick<ServerCallInfo, 'protocol' | 'service' | 'method'>> = [];
  const { server, address } = await start(
    {
      interceptors: [
        async (call, next) => {
          seen.push(JSON.parse(JSON.stringify(call)));
          if (call.metadata['authorization'] !== 'Bearer ok') throw new RpcError(Status.UNAUTHENTICATED, 'no token');
          call.metadata['x-added'] = 'by interceptor';
          return next();
        },
      ],
    },
    { work: 'worker' },
  );
  const client = grpcClient(address);
  const refused = await grpcCall(client, 'Echo', {});
  assert.is(refused.error!.code, Status.UNAUTHENTICATED);
  const ok = await grpcCall(client, 'Work', { payload: Buffer.alloc(1), rounds: 1 }, { metadata: { authorization: 'Bearer ok' } });
  assert.is(ok.error, undefined);
  const echoed = await grpcCall(client, 'Echo', {}, { metadata: { authorization: 'Bearer ok', 'x-grpc': 'context' } });
  assert.is(JSON.parse(echoed.headers['x-metadata'] as string)['x-added'], 'by interceptor');
  assert.is(seen[0]!.protocol, 'grpc');
  assert.is(seen[0]!.service, 'bench.v1.Bench');
  assert.is(seen[1]!.method, 'Work');
  client.close();
  await closeAfterClients(server);
});

test.run();
