/**
 * Keepalive and idle eviction, with short intervals so that it runs in seconds.
 *
 * The server evicts a connection that sends nothing for 200 ms × (2 + 1) = 600 ms. Two
 * clients make a call, stay idle for 1.5 s, and call again:
 * - `kept` has keepalive on (PING every 200 ms of silence): its one connection survives
 *   every idle round, and each PING's round-trip time is recorded;
 * - `quiet` has keepalive off: the server evicts it in each idle round, and its next call
 *   opens a new connection.
 *
 * `node --import tsx examples/heartbeat/main.ts`
 */
import diagnostics from 'node:diagnostics_channel';
import { createClient, createServer } from '../../src/index.js';
import { Bench } from '../bench/generated.js';
import { Bench as handlers } from '../bench/handlers.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

diagnostics.subscribe('ringrpc:server:connection-close', (m) => {
  const { peer, reason, message } = m as { peer: string; reason: string; message: string };
  log(`  [server] closed ${peer}: ${reason} (${message})`);
});

const server = createServer({ host: '127.0.0.1', heartbeatIntervalMs: 200, heartbeatMissLimit: 2 }).addService(Bench, handlers);
const { port } = await server.listen();
const address = `127.0.0.1:${port}`;
const kept = createClient(Bench, address, { heartbeatIntervalMs: 200 });
const quiet = createClient(Bench, address, { keepalive: false });

for (let round = 1; round <= 3; round++) {
  await Promise.all([kept.echo({}), quiet.echo({})]);
  log(`round ${round}: both called; now idle for 1.5 s`);
  await sleep(1500);
}
await Promise.all([kept.echo({}), quiet.echo({})]);

const k = kept.$stats()[0]!;
const q = quiet.$stats()[0]!;
log('');
log(`kept  (keepalive on):  ${k.connects} TCP connect(s), last PING round trip ${k.rttMs} ms`);
log(`quiet (keepalive off): ${q.connects} TCP connect(s): evicted in every idle round, reconnected on the next call`);
log(`server: ${server.stats().connections.idleClosed} idle closes, ${server.stats().connections.accepted} connections accepted`);
await kept.$close();
await quiet.$close();
await server.close();
if (k.connects !== 1 || q.connects < 2) process.exitCode = 1;
