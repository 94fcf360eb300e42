// Load generator for ringrpc: --port --pid --method echo|work --concurrency --duration --warmup [--rounds --kernel 0|1]
//   [--connections n: multiplexed connections, at most one per call in flight; default 1]
import { createClient } from '../../src/index.js';
import { runLoad } from '../../src/bench/load-generator.js';
import { Bench, type WorkKernel } from '../../examples/bench/generated.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';

const f = flags(process.argv.slice(2));
const connectionsPerEndpoint = Math.min(Number(f['concurrency'] ?? 1), Number(f['connections'] ?? 1));
const client = createClient(Bench, `127.0.0.1:${f['port']}`, { timeoutMs: 60_000, pool: { connectionsPerEndpoint } });
const payload = new Uint8Array(Number(f['payload'] ?? 64)).fill(7);
const rounds = Number(f['rounds'] ?? 0);
const kernel = Number(f['kernel'] ?? 0) as WorkKernel;
const call = f['method'] === 'work' ? () => client.work({ payload, rounds, kernel }) : () => client.echo({ payload });
await client.echo({ payload }); // connect before measuring
const warmupMs = Number(f['warmup'] ?? 1000);
await measure(Number(f['pid']), warmupMs, async (onStart) => {
  setTimeout(onStart, warmupMs);
  return (await runLoad(call, { concurrency: Number(f['concurrency']), durationMs: Number(f['duration'] ?? 5000), warmupMs })).result;
});
await client.$close();
