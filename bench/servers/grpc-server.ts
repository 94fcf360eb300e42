// @grpc/grpc-js bench server with the same bench.proto: --mode inline|piscina [--workers n].
// Stream's replies carry the time they were produced (bench/servers/stream-stamp.ts), each
// written when the stream takes more (grpc-js's write() backpressure). Prints "READY <port>".
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { Piscina } from 'piscina';
import { work } from '../../examples/bench/handlers.js';
import type { WorkKernel } from '../../examples/bench/generated.js';
import { flags } from '../lib/proc.js';
import { stampedPayload } from './stream-stamp.js';

const f = flags(process.argv.slice(2));
const task = new URL(`./piscina-work${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
const pool =
  f['mode'] === 'piscina'
    ? new Piscina({ filename: task, minThreads: Number(f['workers'] ?? 2), maxThreads: Number(f['workers'] ?? 2), idleTimeout: Infinity })
    : undefined;
type Call<T> = grpc.ServerUnaryCall<T, unknown>;
// Enums as numbers, as ringrpc's decoder gives them.
const def = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true, enums: Number });
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
const server = new grpc.Server();
server.addService(pkg.bench.v1.Bench.service, {
  Echo: (call: Call<{ payload: Buffer }>, cb: grpc.sendUnaryData<unknown>) => cb(null, { payload: call.request.payload }),
  Work: (call: Call<{ payload: Buffer; rounds: number; kernel: WorkKernel }>, cb: grpc.sendUnaryData<unknown>) => {
    const { payload, rounds, kernel } = call.request;
    if (pool === undefined) {
      cb(null, { digest: Buffer.from(work(payload, rounds, kernel)) });
      return;
    }
    // Copy the payload into its own buffer: a view would clone the whole receive buffer.
    pool.run({ payload: new Uint8Array(payload), rounds, kernel }).then(
      (digest: Uint8Array) => cb(null, { digest: Buffer.from(digest) }),
      (err: Error) => cb(err),
    );
  },
  Sleep: (call: Call<{ ms: number }>, cb: grpc.sendUnaryData<unknown>) => setTimeout(() => cb(null, {}), call.request.ms),
  Stream: (call: grpc.ServerWritableStream<{ count: number; payload_bytes: number }, unknown>) => {
    const { count, payload_bytes } = call.request;
    let sent = 0;
    let cancelled = false;
    call.on('cancelled', () => (cancelled = true));
    const pump = (): void => {
      while (sent < count && !cancelled) {
        sent++;
        if (!call.write({ payload: stampedPayload(payload_bytes) })) {
          call.once('drain', pump);
          return;
        }
      }
      if (!cancelled) call.end();
    };
    pump();
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`READY ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
