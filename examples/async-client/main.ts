/**
 * N concurrent calls in promise mode and in callback mode against a server, then
 * successes, failures, p50/p95/p99 and total time for each.
 * `node --import tsx examples/async-client/main.ts [host:port] [N]` (no address: starts its own server)
 */
import { createServer, createClient, type RpcError } from '../../src/index.js';
import { Bench } from '../bench/generated.js';
import { Bench as handlers } from '../bench/handlers.js';

const n = Number(process.argv[3] ?? 10_000);
let address = process.argv[2];
const server = address ? undefined : createServer({ host: '127.0.0.1', port: 0 }).addService(Bench, handlers);
if (server) {
  const a = await server.listen();
  address = `${a.host}:${a.port}`;
}
const client = createClient(Bench, address!);
const payload = new Uint8Array(64);

function report(mode: string, latencies: number[], failures: number, totalMs: number): void {
  latencies.sort((a, b) => a - b);
  const at = (p: number): string => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(2) : '-');
  process.stdout.write(
    `${mode.padEnd(8)} ok ${latencies.length}  failed ${failures}  p50 ${at(50)} ms  p95 ${at(95)} ms  p99 ${at(99)} ms  total ${totalMs.toFixed(0)} ms\n`,
  );
}

{
  // Promise mode: all N in flight at once, awaited together.
  const latencies: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      const start = performance.now();
      try {
        await client.echo({ payload });
        latencies.push(performance.now() - start);
      } catch {
        failures++;
      }
    }),
  );
  report('promise', latencies, failures, performance.now() - t0);
}

{
  // Callback mode: the same N, Node-style callbacks.
  const latencies: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let pending = n;
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      client.echo({ payload }, (err: RpcError | null) => {
        if (err) failures++;
        else latencies.push(performance.now() - start);
        if (--pending === 0) done();
      });
    }
  });
  report('callback', latencies, failures, performance.now() - t0);
}

await client.$close();
await server?.close();
