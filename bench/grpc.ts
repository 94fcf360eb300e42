/**
 * `node dist/bench/grpc.js` (after `npm run build && npm run build:bench`): ringrpc's gRPC
 * endpoint against a plain @grpc/grpc-js server (issue 23, "Benchmark"), the same grpc-js
 * load generator (bench/clients/grpc-client.ts) driving both, every server and load
 * generator in its own process, runs interleaved; the tables show medians, with server CPU
 * µs per request.
 *
 * - echo: Echo 64 B at concurrency 1, 32 and 256: ringrpc (inline lane, reached over gRPC)
 *   vs grpc-js.
 * - echo-alone: the same two servers driven by h2load (bench/clients/h2load-client.ts: a C
 *   HTTP/2 client, Debian's nghttp2-client), 4 connections × 64 streams, so that the servers
 *   are measured alone rather than through the grpc-js client's own cost.
 * - work: Work (sha256 kernel) calibrated to ≈1 ms of CPU, concurrency 64: ringrpc's worker
 *   lane (2 workers) over gRPC, grpc-js inline, grpc-js + piscina (2 workers), each as a
 *   share of what 2 bare worker threads do with the same work and no RPC (measured right
 *   before and after every case).
 *
 *   --suite echo|echo-alone|work|all (default all) --runs 3 --duration 5000 --warmup 1000
 *   --work-warmup 10000 (the Work group's)
 *
 * Writes bench/results/<date>-grpc.json and .md and prints the markdown.
 */
import { flags } from './lib/proc.js';
import { runSideBySide, writeResults, type Case } from './lib/side-by-side.js';
import { calibrateRounds } from '../examples/bench/handlers.js';
import { WorkKernel } from '../examples/bench/generated.js';

const f = flags(process.argv.slice(2));
const suites = (f['suite'] ?? 'all') === 'all' ? ['echo', 'echo-alone', 'work'] : f['suite']!.split(',');
const options = {
  runs: Number(f['runs'] ?? 3),
  duration: Number(f['duration'] ?? 5000),
  warmup: Number(f['warmup'] ?? 1000),
  title: 'ringrpc gRPC endpoint vs grpc-js',
};

const RINGRPC = 'bench/servers/ringrpc-server.ts';
const GRPC = 'bench/servers/grpc-server.ts';
const GRPC_CLIENT = 'bench/clients/grpc-client.ts';
const cases: Case[] = [];

if (suites.includes('echo')) {
  for (const c of [1, 32, 256]) {
    const group = `Echo 64 B over gRPC, concurrency ${c}`;
    const client: [string, string[]] = [GRPC_CLIENT, ['--method', 'echo', '--concurrency', String(c)]];
    cases.push({ group, name: 'grpc-js server', server: [GRPC, ['--mode', 'inline']], client, baseline: 'grpc-js server' });
    cases.push({ group, name: 'ringrpc server, gRPC endpoint', server: [RINGRPC, []], client, baseline: 'grpc-js server' });
  }
}
if (suites.includes('echo-alone')) {
  const group = 'Echo 64 B over gRPC, h2load, 4 connections × 64 streams (the servers alone)';
  const client: [string, string[]] = ['bench/clients/h2load-client.ts', ['--connections', '4', '--streams', '64']];
  cases.push({ group, name: 'grpc-js server', server: [GRPC, ['--mode', 'inline']], client, baseline: 'grpc-js server' });
  cases.push({ group, name: 'ringrpc server, gRPC endpoint', server: [RINGRPC, []], client, baseline: 'grpc-js server' });
}
if (suites.includes('work')) {
  const kernel = WorkKernel.WORK_KERNEL_SHA256;
  const rounds = calibrateRounds(1, kernel);
  const group = `Work ≈1 ms CPU over gRPC, sha256 kernel (${rounds} rounds), concurrency 64`;
  const work = ['--rounds', String(rounds), '--kernel', String(kernel)];
  const client: [string, string[]] = [GRPC_CLIENT, ['--method', 'work', '--concurrency', '64', ...work]];
  const ceiling = 'ceiling: 2 bare worker threads';
  // In steady state, as bench/run.ts measures Work: the servers' JIT settles over seconds.
  const warmup = Number(f['work-warmup'] ?? 10_000);
  cases.push({ group, name: ceiling, client: ['bench/ceiling.ts', ['--threads', '2', ...work]], baseline: ceiling, brackets: true });
  cases.push({
    group,
    name: 'ringrpc worker lane, 2 workers, gRPC endpoint',
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Work']],
    client,
    baseline: ceiling,
    warmup,
  });
  cases.push({ group, name: 'grpc-js inline', server: [GRPC, ['--mode', 'inline']], client, baseline: ceiling, warmup });
  cases.push({ group, name: 'grpc-js + piscina.run(), 2 workers', server: [GRPC, ['--mode', 'piscina', '--workers', '2']], client, baseline: ceiling, warmup });
}

const { markdown, summary } = await runSideBySide(cases, options);
writeResults(markdown, summary, options, '-grpc');
