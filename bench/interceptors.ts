/**
 * `node dist/bench/interceptors.js` (after `npm run build && npm run build:bench`): what a
 * server interceptor costs per call (issue 25, "Benchmark"). Echo 64 B, closed loop at
 * concurrency 256 over 4 connections, driven by the raw-protocol load client
 * (bench/clients/raw-client.ts: no ringrpc client code, so the server is measured alone),
 * server and load generator in separate processes.
 *
 * Cases (`--interceptor` of bench/servers/ringrpc-server.ts): none; one pass-through
 * interceptor (`(call, next) => next()`); and any further ones given with `--cases`.
 * The cost of an interceptor is the median, over `--rounds` interleaved rounds (none, pass,
 * none, pass, …), of its server CPU per call minus the first case's in the same round;
 * each round waits for an idle machine first.
 *
 *   --rounds 5 --duration 5000 --warmup 1500 --cases none,pass  --out <file.md>
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import type { ClientResult } from './lib/client-main.js';
import { flags, startNode, stop } from './lib/proc.js';
import { waitForIdle } from './lib/machine.js';
import { median } from './lib/median.js';

const f = flags(process.argv.slice(2));
const rounds = Number(f['rounds'] ?? 5);
const duration = Number(f['duration'] ?? 5000);
const warmup = Number(f['warmup'] ?? 1500);
const cases = (f['cases'] ?? 'none,pass').split(',');
const LABEL: Record<string, string> = {
  none: 'no interceptor',
  pass: 'one pass-through interceptor',
  tracing: 'tracing on, no-op exporter',
};

async function runCase(interceptor: string): Promise<ClientResult> {
  const server = await startNode('bench/servers/ringrpc-server.ts', ['--port', '0', '--interceptor', interceptor], /READY (\d+)/);
  try {
    const args = ['--port', server.match[1]!, '--pid', String(server.proc.pid), '--concurrency', '256', '--connections', '4'];
    const client = await startNode(
      'bench/clients/raw-client.ts',
      [...args, '--duration', String(duration), '--warmup', String(warmup)],
      /RESULT (.+)/,
      duration + warmup + 60_000,
    );
    await stop(client.proc);
    return JSON.parse(client.match[1]!) as ClientResult;
  } finally {
    await stop(server.proc);
  }
}

const perCall = (r: ClientResult): number => (r.serverCpu * 10_000) / r.rps; // % of a core → µs per request

const results = new Map<string, ClientResult[]>(cases.map((c) => [c, []]));
const idle: string[] = [];
for (let r = 0; r < rounds; r++) {
  const state = await waitForIdle();
  idle.push(`${state.busy.toFixed(2)}`);
  for (const c of cases) {
    process.stderr.write(`round ${r + 1}/${rounds}: ${c}\n`);
    results.get(c)!.push(await runCase(c));
  }
}

const baseRuns = results.get(cases[0]!)!;
const lines = [
  `# Interceptor cost, ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}). Echo 64 B, concurrency 256 over 4 connections, raw-protocol load client; ${rounds} interleaved rounds of ${duration} ms after ${warmup} ms warm-up; medians. Busy cores before each round: ${idle.join(', ')}.`,
  '',
  `| case | req/s | p50 µs | p99 µs | server CPU % | server CPU µs/call | cost µs/call vs ${LABEL[cases[0]!] ?? cases[0]} | per round µs/call |`,
  '|---|---|---|---|---|---|---|---|',
];
for (const c of cases) {
  const rs = results.get(c)!;
  const us = median(rs.map(perCall));
  const row = [
    LABEL[c] ?? c,
    Math.round(median(rs.map((r) => r.rps))).toLocaleString('en-US'),
    Math.round(median(rs.map((r) => r.latencyUs.p50))),
    Math.round(median(rs.map((r) => r.latencyUs.p99))),
    Math.round(median(rs.map((r) => r.serverCpu))),
    us.toFixed(2),
    c === cases[0] ? '–' : median(rs.map((r, i) => perCall(r) - perCall(baseRuns[i]!))).toFixed(2),
    rs.map((r) => perCall(r).toFixed(2)).join(', '),
  ];
  lines.push(`| ${row.join(' | ')} |`);
}
const md = `${lines.join('\n')}\n`;
process.stdout.write(md);
if (f['out'] !== undefined) writeFileSync(f['out'], md);
