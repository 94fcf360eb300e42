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
 * Every case for the first count of `--streams`; for the others (one stream by default:
 * there the client's window, not the CPU, bounds a stream), grpc-js and both ringrpc lanes
 * read by the raw client.
 *
 *   --runs 3 --duration 5000 --warmup 1000 --streams 8,1 --payload 64
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
const counts = (f['streams'] ?? '8,1').split(',');
const payload = f['payload'] ?? '64';
const GRPC = 'grpc-js server, grpc-js client';

/** The cases of `streams` streams on one connection; `all`: every client, else grpc-js and the raw client on both lanes. */
function group(streams: string, all: boolean): Case[] {
  const load = ['--streams', streams, '--payload', payload, '--count', '1000000'];
  const group = `Server streaming, ${payload} B messages, ${streams} stream${streams === '1' ? '' : 's'} on one connection`;
  const ringrpc = (name: string, args: string[], client: string, fullOnly = false): Case[] =>
    fullOnly && !all ? [] : [{ group, name, server: ['bench/servers/ringrpc-server.ts', ['--stamp', 'on', ...args]], client: [client, load], baseline: GRPC }];
  return [
    { group, name: GRPC, server: ['bench/servers/grpc-server.ts', []], client: ['bench/clients/grpc-stream-client.ts', load], baseline: GRPC },
    ...ringrpc('ringrpc server (gRPC endpoint), grpc-js client', [], 'bench/clients/grpc-stream-client.ts', true),
    ...ringrpc('ringrpc server, raw client', [], 'bench/clients/raw-stream-client.ts'),
    ...ringrpc('ringrpc server, worker lane (2 workers), raw client', ['--workers', '2', '--worker-methods', 'Stream'], 'bench/clients/raw-stream-client.ts'),
    ...ringrpc('ringrpc server, ringrpc client', [], 'bench/clients/ringrpc-stream-client.ts', true),
  ];
}

const cases = counts.flatMap((n, i) => group(n, i === 0));
const { markdown, summary } = await runSideBySide(cases, options);
writeResults(markdown, summary, options, '-streams');
