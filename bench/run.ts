/**
 * `npm run bench`: side-by-side benchmarks, in one run, each server and each load generator
 * in its own process, medians of N runs (interleaved, so drift hits every case alike).
 *   --suite echo        ringrpc vs @grpc/grpc-js vs raw net Echo at concurrency 1, 32, 256
 *   --runs 3 --duration 5000 --warmup 1000
 * Writes bench/results/<date>.json and .md and prints the markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startNode, stop, flags } from './lib/proc.js';
import type { ClientResult } from './lib/client-main.js';

const f = flags(process.argv.slice(2));
const runs = Number(f['runs'] ?? 3);
const duration = Number(f['duration'] ?? 5000);
const warmup = Number(f['warmup'] ?? 1000);

interface Case {
  readonly group: string;
  readonly name: string;
  readonly server: [string, string[]];
  readonly client: [string, string[]];
}

const systems = {
  ringrpc: { server: 'bench/servers/ringrpc-server.ts', client: 'bench/clients/ringrpc-client.ts' },
  'grpc-js': { server: 'bench/servers/grpc-server.ts', client: 'bench/clients/grpc-client.ts' },
  'raw net (batched)': { server: 'bench/servers/net-server.ts', client: 'bench/clients/net-client.ts' },
} as const;

const cases: Case[] = [];
for (const c of [1, 32, 256]) {
  for (const [name, s] of Object.entries(systems)) {
    cases.push({ group: `Echo 64 B, concurrency ${c}`, name, server: [s.server, []], client: [s.client, ['--method', 'echo', '--concurrency', String(c)]] });
  }
}

async function runCase(c: Case): Promise<ClientResult> {
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = new Map<Case, ClientResult[]>();
for (let r = 0; r < runs; r++) {
  for (const c of cases) {
    process.stderr.write(`run ${r + 1}/${runs}: ${c.group} / ${c.name}\n`);
    const result = await runCase(c);
    results.set(c, [...(results.get(c) ?? []), result]);
  }
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const lines: string[] = [];
lines.push(`# ringrpc bench, ${new Date().toISOString()}`);
lines.push('');
lines.push(`Node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}), medians of ${runs} runs, ${duration} ms measured after ${warmup} ms warm-up; server and load generator in separate processes.`);
const groups = [...new Set(cases.map((c) => c.group))];
const summary: Record<string, Record<string, object>> = {};
for (const group of groups) {
  lines.push('', `## ${group}`, '', '| system | req/s | p50 µs | p99 µs | server CPU % | client CPU % | req/s vs grpc-js |', '|---|---|---|---|---|---|---|');
  const inGroup = cases.filter((c) => c.group === group);
  const med = (c: Case, pick: (r: ClientResult) => number): number => median(results.get(c)!.map(pick));
  const grpc = inGroup.find((c) => c.name === 'grpc-js');
  summary[group] = {};
  for (const c of inGroup) {
    const rps = med(c, (r) => r.rps);
    const ratio = grpc ? rps / med(grpc, (r) => r.rps) : NaN;
    const row = { rps, p50: med(c, (r) => r.latencyUs.p50), p99: med(c, (r) => r.latencyUs.p99), serverCpu: med(c, (r) => r.serverCpu), clientCpu: med(c, (r) => r.clientCpu), errors: results.get(c)!.reduce((s, r) => s + (r.requests - r.ok), 0), runs: results.get(c) };
    summary[group]![c.name] = row;
    lines.push(`| ${c.name} | ${n(rps)} | ${n(row.p50)} | ${n(row.p99)} | ${row.serverCpu} | ${row.clientCpu} | ${ratio.toFixed(1)}× |`);
  }
}
const table = lines.join('\n');
process.stdout.write(`${table}\n`);
mkdirSync('bench/results', { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(`bench/results/${stamp}.md`, `${table}\n`);
writeFileSync(`bench/results/${stamp}.json`, JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.availableParallelism(), runs, duration, warmup, results: summary }, null, 2));
