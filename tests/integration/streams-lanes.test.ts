import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type * as grpc from '@grpc/grpc-js';
import { createServer, RpcError, Status } from '../../src/index.js';
import { startBenchServer, handlers, Bench } from '../helpers/bench-server.js';
import { grpcClient } from '../helpers/grpc-client.js';

/**
 * Where stream methods run: server streams on every lane (streams-worker-lane.test.ts),
 * client and bidirectional streams inline only; none over gRPC yet.
 */
const test = suite('streams: lanes and protocols');

for (const lane of ['worker', 'actor'] as const) {
  test(`a server stream on the ${lane} lane is taken at addService`, () => {
    createServer().addService(Bench, handlers, { lanes: { stream: lane }, workerModule: 'examples/bench/handlers.ts' });
  });
  for (const method of ['Sum', 'chat']) {
    test(`${method} on the ${lane} lane is refused at addService, naming it`, () => {
      const server = createServer();
      try {
        server.addService(Bench, handlers, { lanes: { [method]: lane }, workerModule: 'examples/bench/handlers.ts' });
        assert.unreachable('addService took it');
      } catch (err) {
        assert.instance(err, RpcError);
        assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
        assert.match((err as RpcError).message, new RegExp(`bench.v1.Bench/${method[0]!.toUpperCase()}${method.slice(1)}`));
        assert.match((err as RpcError).message, /-streaming method: those run on the inline lane \(server streams may run on the worker and actor lanes\)/);
      }
    });
  }
}

test('a gRPC call of a stream method is answered UNIMPLEMENTED naming it; unary gRPC calls still run', async () => {
  const { server, address } = await startBenchServer();
  const client = grpcClient(address);
  try {
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const call = (client as unknown as Record<string, (request: object) => grpc.ClientReadableStream<unknown>>)['Stream']!({ count: 3, payload_bytes: 1 });
      call.on('data', () => reject(new Error('a reply came')));
      call.on('error', resolve);
      call.on('end', () => reject(new Error('ended without an error')));
    });
    assert.is(error.code, Status.UNIMPLEMENTED);
    assert.match(error.details, /bench.v1.Bench\/Stream is a streaming method \(server_stream\), which is not served over gRPC yet/);
    const reply = await new Promise<{ payload: Buffer }>((resolve, reject) =>
      (client as unknown as Record<string, (r: object, cb: (e: Error | null, v: { payload: Buffer }) => void) => void>)['Echo']!(
        { payload: Buffer.from('hi') },
        (e, v) => (e === null ? resolve(v) : reject(e)),
      ),
    );
    assert.is(reply.payload.toString(), 'hi');
    assert.is(server.stats().methods['bench.v1.Bench/Stream']!.requests, 0, 'never run');
  } finally {
    client.close();
    await server.close();
  }
});

test.run();
