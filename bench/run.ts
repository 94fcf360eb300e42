/**
 * `npm run bench`: side-by-side benchmarks in one run. Every server and every load
 * generator is its own process; each case runs N times, interleaved with the others so
 * that drift (of the machine, or of Work's own speed) hits every case alike; tables show medians.
 *
 *   --suite echo|work|work-integer|worker-echo|all (default all; a comma-separated list works)
 *   --runs 3 --duration 5000 --warmup 1000 --work-warmup 10000 (the Work groups' warm-up)
 *   --cases <text|text>: only the cases whose name contains one of these (a group's
 *     ceiling is always kept), e.g. --suite work --cases "lane, 2 workers|piscina" --runs 15
 *
 * - echo: ringrpc vs @grpc/grpc-js vs raw net, Echo 64 B at concurrency 1, 32, 256. ringrpc
 *   twice, over 4 connections: driven by its own client (the library's cost included) and
 *   by a raw-protocol client (bench/clients/raw-client.ts: the server alone). grpc-js and
 *   raw net use one connection each.
 * - work: Work (sha256 kernel) calibrated to ~1 ms of CPU, concurrency 64: ringrpc inline,
 *   worker lane with 1 and 2 workers (and with 2 driven by the raw-protocol client, whose own
 *   CPU is a fraction of the library client's: the server's efficiency alone), grpc-js
 *   inline, grpc-js + piscina (2 workers);
 *   efficiency = req/s ÷ what 2 bare worker threads do with the same work and no RPC.
 *   This kernel's own speed shifts by up to a half from one run to the next (it is bound
 *   by the memory allocator), so the ceiling is measured right before and right after
 *   every case (the mean of the two is that run's ceiling), and the table shows the
 *   median and range of the runs' efficiencies.
 * - work-integer: the same with Work's allocation-free integer kernel, whose speed is the
 *   CPU's: the RPC overhead measured without the allocator's noise.
 * - worker-echo: Echo on the worker lane at concurrency 256 (per-request hand-off), with
 *   the response ring, without it (Piscina's result path), and with 'sync' atomics.
 *
 * Servers and load generators run the compiled build (`npm run bench` builds first), as a
 * deployment would; see `compiled` in lib/proc.ts.
 *
 * Writes bench/results/<date>.json and .md and prints the markdown.
 */
import { flags } from './lib/proc.js';
import { runSideBySide, writeResults, type Case } from './lib/side-by-side.js';
import { calibrateRounds } from '../examples/bench/handlers.js';
import { WorkKernel } from '../examples/bench/generated.js';

const f = flags(process.argv.slice(2));
const suites = (f['suite'] ?? 'all') === 'all' ? ['echo', 'work', 'work-integer', 'worker-echo'] : f['suite']!.split(',');
const runs = Number(f['runs'] ?? 3);
const duration = Number(f['duration'] ?? 5000);
const warmup = Number(f['warmup'] ?? 1000);
// The Work groups are measured in steady state. With 1 s of warm-up, V8's compiler threads
// still took 3% of a core in the measured window (1% at 9–12 s) and the worker lane's
// efficiency read 0.86–0.88; after 6 s and 15 s it read 0.93 (bench/results/README.md).
const workWarmup = Number(f['work-warmup'] ?? 10_000);

const RINGRPC = 'bench/servers/ringrpc-server.ts';
const GRPC = 'bench/servers/grpc-server.ts';
const cases: Case[] = [];

if (suites.includes('echo')) {
  for (const c of [1, 32, 256]) {
    const group = `Echo 64 B, concurrency ${c}`;
    const client = (s: string): [string, string[]] => [s, ['--method', 'echo', '--concurrency', String(c), '--connections', '4']];
    cases.push({ group, name: 'ringrpc', server: [RINGRPC, []], client: client('bench/clients/ringrpc-client.ts'), baseline: 'grpc-js' });
    // The server alone: the same server driven by a raw-protocol client (no ringrpc client code).
    cases.push({ group, name: 'ringrpc, raw load client', server: [RINGRPC, []], client: client('bench/clients/raw-client.ts'), baseline: 'grpc-js' });
    cases.push({ group, name: 'grpc-js', server: [GRPC, ['--mode', 'inline']], client: client('bench/clients/grpc-client.ts'), baseline: 'grpc-js' });
    cases.push({
      group,
      name: 'raw net (batched)',
      server: ['bench/servers/net-server.ts', []],
      client: client('bench/clients/net-client.ts'),
      baseline: 'grpc-js',
    });
  }
}
for (const [suite, kernel, label] of [
  ['work', WorkKernel.WORK_KERNEL_SHA256, 'sha256'],
  ['work-integer', WorkKernel.WORK_KERNEL_INTEGER, 'integer'],
] as const) {
  if (!suites.includes(suite)) continue;
  const rounds = calibrateRounds(1, kernel);
  const group = `Work ≈1 ms CPU, ${label} kernel (${rounds} rounds), concurrency 64`;
  const work = ['--rounds', String(rounds), '--kernel', String(kernel)];
  const ring = (s: string): [string, string[]] => [s, ['--method', 'work', '--concurrency', '64', ...work]];
  const b = 'ceiling: 2 bare worker threads';
  const steady = { warmup: workWarmup };
  cases.push({ group, name: b, client: ['bench/ceiling.ts', ['--threads', '2', ...work]], baseline: b, brackets: true });
  cases.push({ group, name: '(a) ringrpc inline', server: [RINGRPC, []], client: ring('bench/clients/ringrpc-client.ts'), baseline: b, ...steady });
  cases.push({
    group,
    name: '(b) ringrpc worker lane, 1 worker',
    server: [RINGRPC, ['--workers', '1', '--worker-methods', 'Work']],
    client: ring('bench/clients/ringrpc-client.ts'),
    baseline: b,
    ...steady,
  });
  cases.push({
    group,
    name: '(b) ringrpc worker lane, 2 workers',
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Work']],
    client: ring('bench/clients/ringrpc-client.ts'),
    baseline: b,
    ...steady,
  });
  cases.push({
    group,
    name: '(b) ringrpc worker lane, 2 workers, raw load client',
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Work']],
    client: ring('bench/clients/raw-client.ts'),
    baseline: b,
    ...steady,
  });
  cases.push({ group, name: '(c) grpc-js inline', server: [GRPC, ['--mode', 'inline']], client: ring('bench/clients/grpc-client.ts'), baseline: b, ...steady });
  cases.push({
    group,
    name: '(d) grpc-js + piscina.run(), 2 workers',
    server: [GRPC, ['--mode', 'piscina', '--workers', '2']],
    client: ring('bench/clients/grpc-client.ts'),
    baseline: b,
    ...steady,
  });
}
if (suites.includes('worker-echo')) {
  const group = 'Echo 64 B on the worker lane (2 workers), concurrency 256';
  const client: [string, string[]] = ['bench/clients/ringrpc-client.ts', ['--method', 'echo', '--concurrency', '256']];
  const base = 'response ring (default)';
  cases.push({ group, name: 'ringrpc inline lane (reference)', server: [RINGRPC, []], client, baseline: base });
  cases.push({ group, name: base, server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Echo']], client, baseline: base });
  cases.push({
    group,
    name: "ring off: Piscina's result path",
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Echo', '--ring', 'off']],
    client,
    baseline: base,
  });
  cases.push({
    group,
    name: "ring, atomics 'sync' (no control plane when idle)",
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Echo', '--atomics', 'sync']],
    client,
    baseline: base,
  });
}

if (f['cases'] !== undefined) {
  const wanted = f['cases'].split('|');
  const keep = cases.filter((c) => c.brackets === true || wanted.some((w) => c.name.includes(w)));
  if (!keep.some((c) => c.brackets !== true)) throw new Error(`--cases ${f['cases']}: no case of suite ${suites.join(',')} matches`);
  cases.splice(0, cases.length, ...keep);
}

const options = { runs, duration, warmup };
const { markdown, summary } = await runSideBySide(cases, options);
writeResults(markdown, summary, options);
