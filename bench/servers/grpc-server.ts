// @grpc/grpc-js bench server with the same bench.proto: --mode inline|piscina [--workers n].
// Prints "READY <port>".
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { Piscina } from 'piscina';
import { work } from '../../examples/bench/handlers.js';
import { flags, sourceFile } from '../lib/proc.js';

const f = flags(process.argv.slice(2));
const pool = f['mode'] === 'piscina'
  ? new Piscina({ filename: sourceFile('piscina-work.mjs', import.meta.url), minThreads: Number(f['workers'] ?? 2), maxThreads: Number(f['workers'] ?? 2), idleTimeout: Infinity })
  : undefined;
type Call<T> = grpc.ServerUnaryCall<T, unknown>;
const def = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
const server = new grpc.Server();
server.addService(pkg.bench.v1.Bench.service, {
  Echo: (call: Call<{ payload: Buffer }>, cb: grpc.sendUnaryData<unknown>) => cb(null, { payload: call.request.payload }),
  Work: (call: Call<{ payload: Buffer; rounds: number }>, cb: grpc.sendUnaryData<unknown>) => {
    if (pool === undefined) {
      cb(null, { digest: Buffer.from(work(call.request.payload, call.request.rounds)) });
      return;
    }
    // Copy the payload into its own buffer: a view would clone the whole receive buffer.
    pool.run({ payload: new Uint8Array(call.request.payload), rounds: call.request.rounds }).then(
      (digest: Uint8Array) => cb(null, { digest: Buffer.from(digest) }),
      (err: Error) => cb(err),
    );
  },
  Sleep: (call: Call<{ ms: number }>, cb: grpc.sendUnaryData<unknown>) => setTimeout(() => cb(null, {}), call.request.ms),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`READY ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
