import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type * as grpc from '@grpc/grpc-js';
import { createClient, createServer, RpcError, Status } from '../../src/index.js';
import { startBenchServer, handlers, Bench } from '../helpers/bench-server.js';
import { grpcClient } from '../helpers/grpc-client.js';
import { closeAfterClients } from '../helpers/server-close.js';

/**
 * Where stream methods run: every kind on every lane (streams-worker-lane.test.ts,
 * streams-worker-requests.test.ts); over gRPC, the inline lane's streams.
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

test('a gRPC call of a server stream on the worker lane is UNIMPLEMENTED, naming it and its lane; over ringrpc it streams', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, {
    lanes: { stream: 'worker' },
    workerModule: 'examples/bench/handlers.ts',
  });
  const address = `127.0.0.1:${(await server.listen()).port}`;
  const client = grpcClient(address);
  try {
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const call = (client as unknown as Record<string, (request: object) => grpc.ClientReadableStream<unknown>>)['Stream']!({ count: 3, payload_bytes: 1 });
      call.on('data', () => reject(new Error('a reply came')));
      call.on('error', resolve);
      call.on('end', () => reject(new Error('it ended OK')));
    });
    assert.is(error.code, Status.UNIMPLEMENTED);
    assert.match(error.details, /bench.v1.Bench\/Stream streams on the worker lane, whose streams are served over ringrpc's protocol only/);
    const ringrpc = createClient(Bench, address);
    let replies = 0;
    for await (const _ of ringrpc.stream({ count: 3, payloadBytes: 1 })) replies++;
    assert.is(replies, 3);
    await ringrpc.$close();
  } finally {
    client.close();
    await closeAfterClients(server);
  }
});

test.run();
