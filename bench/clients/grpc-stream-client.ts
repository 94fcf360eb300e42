// Stream load for @grpc/grpc-js: --port --pid --streams 8 --count 100000 --payload 64 --duration --warmup
// Keeps --streams server streams of Bench.Stream open (a new one as each ends), reads every
// message as it comes and times it from its stamp (the server's --stamp). Prints RESULT.
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';
import { StreamTally, streamLoad } from '../lib/stream-tally.js';
import { readStamp } from '../servers/stream-stamp.js';

const f = flags(process.argv.slice(2));
const def = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true, enums: Number });
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
const client = new pkg.bench.v1.Bench(`127.0.0.1:${f['port']}`, grpc.credentials.createInsecure()) as unknown as {
  Stream(request: object): grpc.ClientReadableStream<{ payload: Buffer }>;
} & grpc.Client;
const streams = Number(f['streams'] ?? 8);
const request = { count: Number(f['count'] ?? 100_000), payload_bytes: Number(f['payload'] ?? 64) };
const tally = new StreamTally();
let issuing = true;
const open = new Set<grpc.ClientReadableStream<unknown>>();

function openStream(): void {
  if (!issuing) return;
  const call = client.Stream(request);
  open.add(call);
  call.on('data', (reply: { payload: Buffer }) => tally.message(readStamp(reply.payload, 0)));
  call.on('error', (err: grpc.ServiceError) => {
    open.delete(call);
    if (issuing) tally.failed(grpc.status[err.code] ?? String(err.code));
  });
  call.on('end', () => {
    open.delete(call);
    openStream();
  });
}

const warmupMs = Number(f['warmup'] ?? 1000);
await measure(Number(f['pid']), warmupMs, (onStart) =>
  streamLoad(tally, warmupMs, Number(f['duration'] ?? 5000), onStart, () => {
    for (let i = 0; i < streams; i++) openStream();
  }),
);
issuing = false;
for (const call of open) call.cancel();
client.close();
