// @grpc/grpc-js bench server with the same bench.proto: prints "READY <port>".
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { work } from '../../examples/bench/handlers.js';

const def = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
const server = new grpc.Server();
server.addService(pkg.bench.v1.Bench.service, {
  Echo: (call: grpc.ServerUnaryCall<{ payload: Buffer }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { payload: call.request.payload }),
  Work: (call: grpc.ServerUnaryCall<{ payload: Buffer; rounds: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { digest: Buffer.from(work(call.request.payload, call.request.rounds)) }),
  Sleep: (call: grpc.ServerUnaryCall<{ ms: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => setTimeout(() => cb(null, {}), call.request.ms),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`READY ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
