import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startNode, stop } from './proc.js';
import type { ClientResult } from './client-main.js';
import { median } from './median.js';

/**
 * Side-by-side benchmark cases, each server and each load generator in its own process,
 * runs interleaved so that drift hits every case alike, tables of medians: the runner of
 * `npm run bench` (bench/run.ts) and of bench/grpc.ts.
 */

/** One case: a server and the load generator that drives it, in a group of cases compared together. */
export interface Case {
  readonly group: string;
  readonly name: string;
  /** Server script and args; undefined for the bare-threads ceiling. */
  readonly server?: readonly [string, readonly string[]];
  readonly client: readonly [string, readonly string[]];
  /** Compare req/s to this case of the group. */
  readonly baseline?: string;
  /** This case is measured right before and after each other case of its group, which it is the ceiling of. */
  readonly brackets?: boolean;
  /**
   * Warm-up of this case's runs, in ms, instead of the options' (a ceiling has none: its
   * threads warm themselves). For cases measured in steady state, once the JIT has
   * settled: a server's is still compiling seconds after its first requests.
   */
  readonly warmup?: number;
}

/** How many runs, and how long each measures. */
export interface SideBySideOptions {
  readonly runs: number;
  /** Measured window of each run, in ms. */
  readonly duration: number;
  /** Warm-up before it, in ms. */
  readonly warmup: number;
  /** The report's heading. Default "ringrpc bench". */
  readonly title?: string;
}

/**
 * Runs every case `runs` times, interleaved (a group's ceiling right before and after each
 * of its other cases), and returns the markdown tables (medians) and a JSON summary.
 */
export async function runSideBySide(
  cases: readonly Case[],
  { runs, duration, warmup, title = 'ringrpc bench' }: SideBySideOptions,
): Promise<{ markdown: string; summary: Record<string, Record<string, unknown>> }> {
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
      const warm = c.warmup ?? warmup;
      const args = [...c.client[1], '--port', server.match[1]!, '--pid', String(server.proc.pid), '--duration', String(duration), '--warmup', String(warm)];
      const client = await startNode(c.client[0], args, /RESULT (.+)/, duration + warm + 60_000);
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

  const n = (x: number): string => (x === 0 ? '–' : Math.round(x).toLocaleString('en-US'));
  const lines: string[] = [`# ${title}, ${new Date().toISOString()}`, ''];
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
    const warmups = new Set(inGroup.filter((c) => c.server !== undefined).map((c) => c.warmup ?? warmup));
    if (warmups.size === 1 && !warmups.has(warmup)) lines.push(`Every run of this group measured after ${[...warmups][0]} ms of warm-up.`, '');
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
  return { markdown: lines.join('\n'), summary };
}

/** Prints the tables and writes them to bench/results/<date><suffix>.md, with the summary as .json. */
export function writeResults(markdown: string, summary: Record<string, Record<string, unknown>>, options: SideBySideOptions, suffix = ''): void {
  process.stdout.write(`${markdown}\n`);
  mkdirSync('bench/results', { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(`bench/results/${stamp}${suffix}.md`, `${markdown}\n`);
  const meta = { date: new Date().toISOString(), node: process.version, cores: os.availableParallelism(), ...options };
  writeFileSync(`bench/results/${stamp}${suffix}.json`, JSON.stringify({ ...meta, results: summary }, null, 2));
}
