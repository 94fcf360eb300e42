/**
 * Connection reuse, counted in TCP connects seen by the server: the same 2,000 Echo calls
 * (100 at a time) through
 * - a client's own pool (one multiplexed connection),
 * - a pool shared by three clients (still one connection),
 * - `connectionsPerEndpoint: 4` (four connections, calls spread over them),
 * - no pool (`pool: { enabled: false }`: a connection per call).
 *
 * `node --import tsx examples/pool/main.ts`
 */
import { createClient, createPool, createServer } from '../../src/index.js';
import { Bench } from '../bench/generated.js';
import { Bench as handlers } from '../bench/handlers.js';

const CALLS = 2000;
const AT_ONCE = 100;

const server = createServer({ host: '127.0.0.1' }).addService(Bench, handlers);
const { port } = await server.listen();
const address = `127.0.0.1:${port}`;

async function measure(name: string, clients: Array<ReturnType<typeof createClient<typeof Bench>>>): Promise<void> {
  const before = server.stats().connections.accepted;
  const started = performance.now();
  for (let i = 0; i < CALLS; i += AT_ONCE) {
    await Promise.all(Array.from({ length: AT_ONCE }, (_, j) => clients[(i + j) % clients.length]!.echo({})));
  }
  const ms = performance.now() - started;
  const connects = server.stats().connections.accepted - before;
  process.stdout.write(`${name.padEnd(34)} ${String(connects).padStart(5)} TCP connects   ${String(Math.round(CALLS / (ms / 1000))).padStart(7)} calls/s\n`);
  await Promise.all(clients.map((c) => c.$close()));
}

// Warm up the JIT first, so that the first row is not the slow one for that reason alone.
const warm = createClient(Bench, address);
for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: AT_ONCE }, () => warm.echo({})));
await warm.$close();

process.stdout.write(`${CALLS} Echo calls, ${AT_ONCE} at a time:\n`);
await measure('own pool (default)', [createClient(Bench, address)]);
const shared = createPool();
await measure(
  'one pool shared by 3 clients',
  [1, 2, 3].map(() => createClient(Bench, address, { pool: shared })),
);
await shared.close();
await measure('connectionsPerEndpoint: 4', [createClient(Bench, address, { pool: { connectionsPerEndpoint: 4 } })]);
await measure('no pool (enabled: false)', [createClient(Bench, address, { pool: { enabled: false } })]);
await server.close();
