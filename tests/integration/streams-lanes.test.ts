import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { createServer, RpcError, Status } from '../../src/index.js';
import { streamPayload } from '../../examples/bench/handlers.js';
import { startBenchServer, handlers, Bench } from '../helpers/bench-server.js';
import { grpcClient } from '../helpers/grpc-client.js';
import { frameMessage, rawCall } from '../helpers/raw-grpc.js';
import { closeAfterClients } from '../helpers/server-close.js';

const StreamRequest = Bench.methods.stream.requestType;
const EchoReply = Bench.methods.stream.responseType;

/**
 * Where stream methods run: every kind on every lane (streams-worker-lane.test.ts,
 * streams-worker-requests.test.ts), over ringrpc's protocol and over gRPC.
 */
const test = suite('streams: lanes and protocols');

for (const lane of ['worker', 'actor'] as const) {
  for (const method of ['stream', 'Sum', 'chat']) {
    test(`${method} on the ${lane} lane is taken at addService`, () => {
      createServer().addService(Bench, handlers, { lanes: { [method]: lane }, workerModule: 'examples/bench/handlers.ts' });
    });
  }
  test(`a stream method on the ${lane} lane still needs options.workerModule`, () => {
    try {
      createServer().addService(Bench, handlers, { lanes: { chat: lane } });
      assert.unreachable('addService took it');
    } catch (err) {
      assert.instance(err, RpcError);
      assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
      assert.match((err as RpcError).message, /options.workerModule must name the module/);
    }
  });
}

test('a gRPC call of a stream method runs on the stream lane too (grpc-streams.test.ts has the rest); unary gRPC calls still run', async () => {
  const { server, address } = await startBenchServer();
  const client = grpcClient(address);
  try {
    const replies = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const call = (client as unknown as Record<string, (request: object) => grpc.ClientReadableStream<unknown>>)['Stream']!({ count: 3, payload_bytes: 1 });
      call.on('data', () => n++);
      call.on('error', reject);
      call.on('end', () => resolve(n));
    });
    assert.is(replies, 3);
    const reply = await new Promise<{ payload: Buffer }>((resolve, reject) =>
      (client as unknown as Record<string, (r: object, cb: (e: Error | null, v: { payload: Buffer }) => void) => void>)['Echo']!(
        { payload: Buffer.from('hi') },
        (e, v) => (e === null ? resolve(v) : reject(e)),
      ),
    );
    assert.is(reply.payload.toString(), 'hi');
    assert.is(server.stats().methods['bench.v1.Bench/Stream']!.ok, 1);
  } finally {
    client.close();
    await closeAfterClients(server);
  }
});

type Rpc = Record<string, (...args: unknown[]) => grpc.ClientReadableStream<{ payload: Buffer }> & grpc.ClientDuplexStream<object, { payload: Buffer }>>;

/** Every reply of a gRPC server or bidirectional stream, and how it ended. */
function readAll(call: grpc.ClientReadableStream<{ payload: Buffer }>, slowMs = 0): Promise<{ payloads: Buffer[]; error: grpc.ServiceError | undefined }> {
  return new Promise((resolve) => {
    const payloads: Buffer[] = [];
    call.on('data', (r: { payload: Buffer }) => {
      payloads.push(r.payload);
      if (slowMs > 0 && payloads.length % 10 === 0) {
        call.pause();
        setTimeout(() => call.resume(), slowMs);
      }
    });
    call.on('error', (error: grpc.ServiceError) => resolve({ payloads, error }));
    call.on('end', () => resolve({ payloads, error: undefined }));
  });
}

test('gRPC calls of streams on the worker and actor lanes: Stream, Sum and Chat run in their threads, in order, under HTTP/2 flow control', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, actorWorkers: 1 }).addService(Bench, handlers, {
    lanes: { stream: 'worker', sum: 'worker', chat: 'actor' },
    workerModule: 'examples/bench/handlers.ts',
  });
  const address = `127.0.0.1:${(await server.listen()).port}`;
  const client = grpcClient(address) as unknown as Rpc & grpc.Client;
  try {
    // 2,000 small replies, and 40 of 100 KB: many times the 64 KiB window, read slowly.
    const small = await readAll(client['Stream']!({ count: 2000, payload_bytes: 100 }));
    assert.is(small.error, undefined, small.error?.details);
    assert.is(small.payloads.length, 2000);
    assert.ok(
      small.payloads.every((p, n) => p.equals(Buffer.from(streamPayload(n & 0xff, 100)))),
      'every reply, in order',
    );
    const large = await readAll(client['Stream']!({ count: 40, payload_bytes: 100_000 }), 20);
    assert.is(large.error, undefined, large.error?.details);
    assert.is(large.payloads.length, 40);
    assert.ok(large.payloads.every((p, n) => p.equals(Buffer.from(streamPayload(n & 0xff, 100_000)))));

    // A client stream: 300 requests of 1 KB, their digest computed in the worker.
    const payloads = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1000, i & 0xff));
    const hash = createHash('sha256');
    for (const p of payloads) hash.update(p);
    const sum = await new Promise<{ messages: string; digest: Buffer }>((resolve, reject) => {
      const call = (
        client as unknown as Record<
          string,
          (cb: (e: grpc.ServiceError | null, r: { messages: string; digest: Buffer }) => void) => grpc.ClientWritableStream<object>
        >
      )['Sum']!((e, r) => (e === null ? resolve(r) : reject(e)));
      for (const payload of payloads) call.write({ payload });
      call.end();
    });
    assert.is(String(sum.messages), '300');
    assert.ok(Buffer.from(sum.digest).equals(hash.digest()));

    // A bidirectional stream on the actor lane, its key from the ringrpc-key header.
    const metadata = new (await import('@grpc/grpc-js')).Metadata();
    metadata.set('ringrpc-key', 'k1');
    const chat = client['Chat']!(metadata) as grpc.ClientDuplexStream<object, { payload: Buffer }>;
    const echoed = readAll(chat);
    for (let i = 0; i < 50; i++) chat.write({ payload: Buffer.from(`m${i}`) });
    chat.end();
    const { payloads: back, error } = await echoed;
    assert.is(error, undefined, error?.details);
    assert.equal(
      back.map((p) => p.toString()),
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
    const stats = server.stats();
    assert.is(stats.methods['bench.v1.Bench/Stream']!.ok, 2);
    assert.is(stats.methods['bench.v1.Bench/Sum']!.ok, 1);
    assert.is(stats.methods['bench.v1.Bench/Chat']!.ok, 1);
    assert.is(stats.workerLane!.inflight, 0);
  } finally {
    client.close();
    await closeAfterClients(server);
  }
});

test("worker-lane replies under the server's gzip over gRPC: gzipped for a client that takes gzip, plain for one that does not", async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, compression: 'gzip', compressionThresholdBytes: 100 }).addService(Bench, handlers, {
    lanes: { stream: 'worker' },
    workerModule: 'examples/bench/handlers.ts',
  });
  const { port } = await server.listen();
  const address = `127.0.0.1:${port}`;
  const client = grpcClient(address) as unknown as Rpc & grpc.Client;
  const session = http2.connect(`http://${address}`);
  try {
    const zipped = await readAll(client['Stream']!({ count: 20, payload_bytes: 5000 }));
    assert.is(zipped.error, undefined, zipped.error?.details);
    assert.ok(zipped.payloads.every((p, n) => p.equals(Buffer.from(streamPayload(n, 5000)))));
    // No grpc-accept-encoding: every message must come uncompressed (flag 0), whole.
    const request = StreamRequest.encode({ count: 20, payloadBytes: 5000 }).finish();
    const plain = await rawCall(session, '/bench.v1.Bench/Stream', [frameMessage(request)]);
    assert.is(plain.grpcStatus, Status.OK, plain.grpcMessage);
    let at = 0;
    let n = 0;
    while (at < plain.data.length) {
      assert.is(plain.data[at], 0, `message ${n} is not compressed`);
      const length = plain.data.readUInt32BE(at + 1);
      const reply = EchoReply.decode(plain.data.subarray(at + 5, at + 5 + length)) as unknown as { payload: Uint8Array };
      assert.ok(Buffer.from(reply.payload).equals(Buffer.from(streamPayload(n, 5000))), `message ${n}`);
      at += 5 + length;
      n++;
    }
    assert.is(n, 20);
    // Replies far larger than they could ever be unzipped to on the reactor: the thread sends them plain.
    const large = await rawCall(session, '/bench.v1.Bench/Stream', [frameMessage(StreamRequest.encode({ count: 3, payloadBytes: 200_000 }).finish())]);
    assert.is(large.grpcStatus, Status.OK, large.grpcMessage);
    assert.is(large.data.length, 3 * (5 + 200_000 + 4), 'three plain replies');
    assert.is((await readAll(client['Stream']!({ count: 2, payload_bytes: 10 }))).payloads.length, 2, 'the server serves on');
  } finally {
    session.close();
    client.close();
    await closeAfterClients(server);
  }
});

test('a gRPC client that cancels a worker-lane stream mid-way: the thread stops, the call counts CANCELLED, the lane serves on', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, {
    lanes: { stream: 'worker' },
    workerModule: 'examples/bench/handlers.ts',
  });
  const address = `127.0.0.1:${(await server.listen()).port}`;
  const client = grpcClient(address) as unknown as Rpc & grpc.Client;
  try {
    const call = client['Stream']!({ count: 10_000_000, payload_bytes: 1000 });
    const ended = readAll(call);
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.cancel();
    const { error } = await ended;
    assert.is(error?.code, Status.CANCELLED);
    const until = Date.now() + 5000;
    while (server.stats().workerLane!.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.is(server.stats().workerLane!.inflight, 0, 'the stream left the lane');
    assert.is(server.stats().methods['bench.v1.Bench/Stream']!.errors['CANCELLED'], 1);
    const again = await readAll(client['Stream']!({ count: 5, payload_bytes: 8 }));
    assert.is(again.payloads.length, 5);
  } finally {
    client.close();
    await closeAfterClients(server);
  }
});

test.run();
