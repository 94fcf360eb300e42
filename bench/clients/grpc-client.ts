// Load generator for @grpc/grpc-js, same proto: --port --pid --method --concurrency --duration --warmup [--rounds --kernel 0|1]
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { runLoad } from '../../src/bench/load-generator.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';

const f = flags(process.argv.slice(2));
const def = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true, enums: Number });
const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
const client = new pkg.bench.v1.Bench(`127.0.0.1:${f['port']}`, grpc.credentials.createInsecure()) as unknown as Record<
  string,
  (req: object, cb: (err: Error | null, res: unknown) => void) => void
>;
const payload = Buffer.alloc(Number(f['payload'] ?? 64), 7);
const rounds = Number(f['rounds'] ?? 0);
const unary = (method: string, req: object) => new Promise((resolve, reject) => client[method]!(req, (err, res) => (err ? reject(err) : resolve(res))));
const kernel = Number(f['kernel'] ?? 0);
const call = f['method'] === 'work' ? () => unary('Work', { payload, rounds, kernel }) : () => unary('Echo', { payload });
await call();
const warmupMs = Number(f['warmup'] ?? 1000);
await measure(Number(f['pid']), warmupMs, async (onStart) => {
  setTimeout(onStart, warmupMs);
  return (await runLoad(call, { concurrency: Number(f['concurrency']), durationMs: Number(f['duration'] ?? 5000), warmupMs })).result;
});
(client as unknown as grpc.Client).close();
