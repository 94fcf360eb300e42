/**
 * `node dist/bench/streams.js` (after `npm run build && npm run build:bench`): server
 * streaming of small messages (issue 24, "Benchmark"), each server and load generator in its
 * own process, runs interleaved, medians. Every message carries the time the server made it,
 * so latency is per message, from production to arrival (both processes read one clock).
 *
 * - ringrpc server (inline lane), read by the raw-protocol stream client (the server alone)
 *   and by ringrpc's own client; the same stream on the worker lane (2 workers), read by the
 *   raw client;
 * - a @grpc/grpc-js server streaming the same messages to a grpc-js client, and the same
 *   grpc-js client reading ringrpc's gRPC endpoint.
 *
 *   --runs 3 --duration 5000 --warmup 1000 --streams 8 --payload 64
 *
 * Writes bench/results/<date>-streams.json and .md and prints the markdown.
 */
import { flags } from './lib/proc.js';
import { runSideBySide, writeResults, type Case } from './lib/side-by-side.js';

const f = flags(process.argv.slice(2));
const options = {
  runs: Number(f['runs'] ?? 3),
  duration: Number(f['duration'] ?? 5000),
  warmup: Number(f['warmup'] ?? 1000),
  title: 'server streaming: ringrpc vs grpc-js',
};
const streams = f['streams'] ?? '8';
const payload = f['payload'] ?? '64';
const load = ['--streams', streams, '--payload', payload, '--count', '1000000'];
const group = `Server streaming, ${payload} B messages, ${streams} streams on one connection`;
const cases: Case[] = [
  {
    group,
    name: 'grpc-js server, grpc-js client',
    server: ['bench/servers/grpc-server.ts', []],
    client: ['bench/clients/grpc-stream-client.ts', load],
    baseline: 'grpc-js server, grpc-js client',
  },
  {
    group,
    name: 'ringrpc server (gRPC endpoint), grpc-js client',
    server: ['bench/servers/ringrpc-server.ts', ['--stamp', 'on']],
    client: ['bench/clients/grpc-stream-client.ts', load],
    baseline: 'grpc-js server, grpc-js client',
  },
  {
    group,
    name: 'ringrpc server, raw client',
    server: ['bench/servers/ringrpc-server.ts', ['--stamp', 'on']],
    client: ['bench/clients/raw-stream-client.ts', load],
    baseline: 'grpc-js server, grpc-js client',
  },
  {
    group,
    name: 'ringrpc server, worker lane (2 workers), raw client',
    server: ['bench/servers/ringrpc-server.ts', ['--stamp', 'on', '--workers', '2', '--worker-methods', 'Stream']],
    client: ['bench/clients/raw-stream-client.ts', load],
    baseline: 'grpc-js server, grpc-js client',
  },
  {
    group,
    name: 'ringrpc server, ringrpc client',
    server: ['bench/servers/ringrpc-server.ts', ['--stamp', 'on']],
    client: ['bench/clients/ringrpc-stream-client.ts', load],
    baseline: 'grpc-js server, grpc-js client',
  },
];
const { markdown, summary } = await runSideBySide(cases, options);
writeResults(markdown, summary, options, '-streams');
