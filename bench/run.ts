/**
 * `npm run bench`: side-by-side benchmarks in one run. Every server and every load
 * generator is its own process; each case runs N times, interleaved with the others so
 * that drift (of the machine, or of Work's own speed) hits every case alike; tables show medians.
 *
 *   --suite echo|work|work-integer|worker-echo|all (default all; a comma-separated list works)
 *   --runs 3 --duration 5000 --warmup 1000
 *   --cases <text|text>: only the cases whose name contains one of these (a group's
 *     ceiling is always kept), e.g. --suite work --cases "lane, 2 workers|piscina" --runs 15
 *
 * - echo: ringrpc vs @grpc/grpc-js vs raw net, Echo 64 B at concurrency 1, 32, 256. ringrpc
 *   twice, over 4 connections: driven by its own client (the library's cost included) and
 *   by a raw-protocol client (bench/clients/raw-client.ts: the server alone). grpc-js and
 *   raw net use one connection each.
 * - work: Work (sha256 kernel) calibrated to ~1 ms of CPU, concurrency 64: ringrpc inline,
 *   worker lane with 1 and 2 workers, grpc-js inline, grpc-js + piscina (2 workers);
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
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startNode, stop, flags } from './lib/proc.js';
import type { ClientResult } from './lib/client-main.js';
import { calibrateRounds } from '../examples/bench/handlers.js';
import { WorkKernel } from '../examples/bench/generated.js';

const f = flags(process.argv.slice(2));
const suites = (f['suite'] ?? 'all') === 'all' ? ['echo', 'work', 'work-integer', 'worker-echo'] : f['suite']!.split(',');
const runs = Number(f['runs'] ?? 3);
const duration = Number(f['duration'] ?? 5000);
const warmup = Number(f['warmup'] ?? 1000);

interface Case {
  readonly group: string;
  readonly name: string;
  /** Server script and args; undefined for the bare-threads ceiling. */
  readonly server?: readonly [string, readonly string[]];
  readonly client: readonly [string, readonly string[]];
  /** Compare req/s to this case of the group. */
  readonly baseline?: string;
  /** This case is measured right before and after each other case of its group, which it is the ceiling of. */
  readonly brackets?: boolean;
}

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
  cases.push({ group, name: b, client: ['bench/ceiling.ts', ['--threads', '2', ...work]], baseline: b, brackets: true });
  cases.push({ group, name: '(a) ringrpc inline', server: [RINGRPC, []], client: ring('bench/clients/ringrpc-client.ts'), baseline: b });
  cases.push({
    group,
    name: '(b) ringrpc worker lane, 1 worker',
    server: [RINGRPC, ['--workers', '1', '--worker-methods', 'Work']],
    client: ring('bench/clients/ringrpc-client.ts'),
    baseline: b,
  });
  cases.push({
    group,
    name: '(b) ringrpc worker lane, 2 workers',
    server: [RINGRPC, ['--workers', '2', '--worker-methods', 'Work']],
    client: ring('bench/clients/ringrpc-client.ts'),
    baseline: b,
  });
  cases.push({ group, name: '(c) grpc-js inline', server: [GRPC, ['--mode', 'inline']], client: ring('bench/clients/grpc-client.ts'), baseline: b });
  cases.push({
    group,
    name: '(d) grpc-js + piscina.run(), 2 workers',
    server: [GRPC, ['--mode', 'piscina', '--workers', '2']],
    client: ring('bench/clients/grpc-client.ts'),
    baseline: b,
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

async function runCase(c: Case): Promise<ClientResult> {
  if (c.server === undefined) {
    const ceiling = await startNode(c.client[0], [...c.client[1], '--duration', String(duration)], /RESULT (.+)/, duration + 30_000);
    await stop(ceiling.proc);
    const { rps } = JSON.parse(ceiling.match[1]!) as { rps: number };
    return {
      requests: 0,
      ok: 0,
      errors: {},
      rps,
      durationMs: duration,
      latencyUs: { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
      clientCpu: 0,
      serverCpu: 0,
    };
  }
  const server = await startNode(c.server[0], ['--port', '0', ...c.server[1]], /READY (\d+)/);
  try {
    const args = [...c.client[1], '--port', server.match[1]!, '--pid', String(server.proc.pid), '--duration', String(duration), '--warmup', String(warmup)];
    const client = await startNode(c.client[0], args, /RESULT (.+)/, duration + warmup + 60_000);
    await stop(client.proc);
    return JSON.parse(client.match[1]!) as ClientResult;
  } finally {
    await stop(server.proc);
  }
}

const results = new Map<Case, ClientResult[]>();
/** Per case, each run's req/s ÷ the mean of the ceilings measured right before and after it. */
const efficiencies = new Map<Case, number[]>();
const append = <T>(map: Map<Case, T[]>, c: Case, value: T): void => void map.set(c, [...(map.get(c) ?? []), value]);
async function measure(c: Case, run: number): Promise<number> {
  process.stderr.write(`run ${run + 1}/${runs}: ${c.group} / ${c.name}\n`);
  const result = await runCase(c);
  append(results, c, result);
  return result.rps;
}
for (let r = 0; r < runs; r++) {
  for (const group of new Set(cases.map((c) => c.group))) {
    const inGroup = cases.filter((c) => c.group === group);
    const ceiling = inGroup.find((c) => c.brackets === true);
    if (ceiling === undefined) {
      for (const c of inGroup) await measure(c, r);
      continue;
    }
    let before = await measure(ceiling, r);
    for (const c of inGroup.filter((x) => x !== ceiling)) {
      const rps = await measure(c, r);
      const after = await measure(ceiling, r);
      append(efficiencies, c, rps / ((before + after) / 2));
      before = after;
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2; // an even count: the mean of the middle two
};
const n = (x: number): string => (x === 0 ? '–' : Math.round(x).toLocaleString('en-US'));
const lines: string[] = [`# ringrpc bench, ${new Date().toISOString()}`, ''];
lines.push(
  `Node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}), medians of ${runs} runs, ${duration} ms measured after ${warmup} ms warm-up; every server and load generator in its own process. CPU % is of one core (200 % = both).`,
);
const summary: Record<string, Record<string, unknown>> = {};
for (const group of [...new Set(cases.map((c) => c.group))]) {
  const inGroup = cases.filter((c) => c.group === group);
  const base = inGroup.find((c) => c.name === inGroup[0]!.baseline);
  const ceiling = inGroup.find((c) => c.brackets === true);
  const ratioName = ceiling ? 'efficiency (÷ ceiling), median (range)' : `req/s vs ${base?.name ?? '-'}`;
  lines.push('', `## ${group}`, '');
  if (ceiling)
    lines.push(
      `Each run of a case is divided by the mean of the ceilings measured right before and right after it; the ceiling row shows the median of its ${results.get(ceiling)!.length} measurements.`,
      '',
    );
  lines.push(
    `| case | req/s | p50 µs | p99 µs | server CPU % | server CPU µs/req | client CPU % | errors | ${ratioName} |`,
    '|---|---|---|---|---|---|---|---|---|',
  );
  summary[group] = {};
  const med = (c: Case, pick: (r: ClientResult) => number): number => median(results.get(c)!.map(pick));
  for (const c of inGroup) {
    const rps = med(c, (r) => r.rps);
    const bracketed = efficiencies.get(c);
    const ratio = c.brackets === true ? 1 : bracketed ? median(bracketed) : base ? rps / med(base, (r) => r.rps) : NaN;
    const row = {
      rps,
      p50: med(c, (r) => r.latencyUs.p50),
      p99: med(c, (r) => r.latencyUs.p99),
      serverCpu: med(c, (r) => r.serverCpu),
      clientCpu: med(c, (r) => r.clientCpu),
      errors: results.get(c)!.reduce((s, r) => s + (r.requests - r.ok), 0),
      ratio,
      ...(bracketed ? { efficiencies: bracketed } : {}),
      runs: results.get(c),
    };
    summary[group]![c.name] = row;
    const range = bracketed ? ` (${Math.min(...bracketed).toFixed(2)}–${Math.max(...bracketed).toFixed(2)})` : '';
    const ratioText = ceiling ? `${ratio.toFixed(2)}${range}` : `${ratio.toFixed(2)}×`;
    const perRequest = row.serverCpu > 0 ? ((row.serverCpu * 10_000) / rps).toFixed(1) : '–';
    lines.push(
      `| ${c.name} | ${n(rps)} | ${n(row.p50)} | ${n(row.p99)} | ${n(row.serverCpu)} | ${perRequest} | ${n(row.clientCpu)} | ${row.errors} | ${ratioText} |`,
    );
  }
}
const table = lines.join('\n');
process.stdout.write(`${table}\n`);
mkdirSync('bench/results', { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(`bench/results/${stamp}.md`, `${table}\n`);
writeFileSync(
  `bench/results/${stamp}.json`,
  JSON.stringify(
    { date: new Date().toISOString(), node: process.version, cores: os.availableParallelism(), runs, duration, warmup, results: summary },
    null,
    2,
  ),
);
