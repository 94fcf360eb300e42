/**
 * `node dist/bench/isolation.js` (after `npm run build && npm run build:bench`): does the
 * reactor keep its core while the worker lane is saturated? (issue 22, "Isolation of the
 * reactor".) One server (Echo inline, Work on the worker lane, `--workers` threads, 2 by
 * default: the machine's cores), and raw-protocol load clients in their own processes
 * (bench/clients/raw-client.ts):
 *
 * - Echo alone: Echo 64 B, closed loop, concurrency 8, one connection;
 * - Work alone: Work ≈1 ms (integer kernel), concurrency 64, 4 connections;
 * - both at once: the two clients together.
 *
 * For each server setting (`--settings`: `nice=0`, `nice=10`, … for options.workerNice,
 * `workers=1`, `reserve=off` for options.reserveReactorCore, joined by `+`), the Echo p99 under Work ÷ Echo p99 alone (target ≤ 3×), and Work's req/s
 * under Echo ÷ Work alone (how much Work keeps). Rounds interleave the settings; medians.
 *
 *   --rounds 3 --duration 5000 --warmup 1500 --settings "default,reserve=off,workers=1" --out <file.md>
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import type { ClientResult } from './lib/client-main.js';
import { flags, startNode, stop } from './lib/proc.js';
import { waitForIdle } from './lib/machine.js';
import { calibrateRounds } from '../examples/bench/handlers.js';
import { WorkKernel } from '../examples/bench/generated.js';
import { median } from './lib/median.js';

const f = flags(process.argv.slice(2));
const rounds = Number(f['rounds'] ?? 3);
const duration = Number(f['duration'] ?? 5000);
const warmup = Number(f['warmup'] ?? 1500);
const settings = (f['settings'] ?? 'default,reserve=off,workers=1').split(',');
const workers = f['workers'] ?? '2';

/** Server flags of a setting: `nice=N` → --worker-nice N; `workers=N` → --workers N; `reserve=on|off` → --reserve. */
function serverArgs(setting: string): string[] {
  const args = ['--workers', workers, '--worker-methods', 'Work'];
  for (const part of setting === 'default' ? [] : setting.split('+')) {
    const [k, v] = part.split('=');
    if (k === 'nice') args.push('--worker-nice', v!);
    else if (k === 'workers') args.splice(1, 1, v!);
    else if (k === 'reserve') args.push('--reserve', v!);
    else throw new Error(`--settings: unknown ${part} (default, or nice=N, workers=N, reserve=on|off joined by +)`);
  }
  return args;
}

interface Phase {
  readonly echo?: ClientResult;
  readonly work?: ClientResult;
}

async function runPhase(setting: string, echo: boolean, work: boolean, workRounds: number): Promise<Phase> {
  const server = await startNode('bench/servers/ringrpc-server.ts', ['--port', '0', ...serverArgs(setting)], /READY (\d+)/);
  try {
    const common = ['--port', server.match[1]!, '--pid', String(server.proc.pid), '--duration', String(duration), '--warmup', String(warmup)];
    const timeout = duration + warmup + 60_000;
    const [e, w] = await Promise.all([
      echo ? startNode('bench/clients/raw-client.ts', [...common, '--concurrency', '8', '--connections', '1'], /RESULT (.+)/, timeout) : undefined,
      work
        ? startNode(
            'bench/clients/raw-client.ts',
            [
              ...common,
              '--method',
              'work',
              '--rounds',
              String(workRounds),
              '--kernel',
              String(WorkKernel.WORK_KERNEL_INTEGER),
              '--concurrency',
              '64',
              '--connections',
              '4',
            ],
            /RESULT (.+)/,
            timeout,
          )
        : undefined,
    ]);
    for (const c of [e, w]) if (c) await stop(c.proc);
    return {
      ...(e ? { echo: JSON.parse(e.match[1]!) as ClientResult } : {}),
      ...(w ? { work: JSON.parse(w.match[1]!) as ClientResult } : {}),
    };
  } finally {
    await stop(server.proc);
  }
}

await waitForIdle();
const workRounds = calibrateRounds(1, WorkKernel.WORK_KERNEL_INTEGER);
type Runs = { echoAlone: ClientResult[]; workAlone: ClientResult[]; echoBoth: ClientResult[]; workBoth: ClientResult[] };
const runs = new Map<string, Runs>(settings.map((s) => [s, { echoAlone: [], workAlone: [], echoBoth: [], workBoth: [] }]));
for (let r = 0; r < rounds; r++) {
  for (const s of settings) {
    await waitForIdle();
    process.stderr.write(`round ${r + 1}/${rounds}: ${s}\n`);
    const runsOf = runs.get(s)!;
    runsOf.echoAlone.push((await runPhase(s, true, false, workRounds)).echo!);
    runsOf.workAlone.push((await runPhase(s, false, true, workRounds)).work!);
    const both = await runPhase(s, true, true, workRounds);
    runsOf.echoBoth.push(both.echo!);
    runsOf.workBoth.push(both.work!);
  }
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const lines = [
  `# Reactor isolation, ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}). Server: Echo inline, Work (integer kernel, ${workRounds} rounds ≈ 1 ms) on the worker lane, ${workers} workers unless the setting says otherwise. Raw-protocol load clients in their own processes: Echo 64 B c=8 over 1 connection, Work c=64 over 4. ${rounds} interleaved rounds of ${duration} ms after ${warmup} ms warm-up; medians.`,
  '',
  '| setting | Echo alone req/s | Echo alone p99 µs | Echo under Work req/s | Echo under Work p99 µs | p99 ratio | Work alone req/s | Work under Echo req/s | Work kept | CPU % under both: server (Work) / Echo client / Work client / left | Echo errors | Work errors |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const s of settings) {
  const x = runs.get(s)!;
  const med = (rs: ClientResult[], pick: (r: ClientResult) => number): number => median(rs.map(pick));
  const p99Alone = med(x.echoAlone, (r) => r.latencyUs.p99);
  const p99Both = med(x.echoBoth, (r) => r.latencyUs.p99);
  const workAlone = med(x.workAlone, (r) => r.rps);
  const workBoth = med(x.workBoth, (r) => r.rps);
  const errors = (rs: ClientResult[]): number => rs.reduce((sum, r) => sum + r.requests - r.ok, 0);
  // Where the machine's CPU went while both ran (% of one core; the machine has cores × 100):
  // Work's own share is its req/s × its ≈1 ms; what is left unused shows whether Work took
  // all the CPU that Echo (the reactor and its load client) left.
  const server = med(x.echoBoth, (r) => r.serverCpu);
  const echoClient = med(x.echoBoth, (r) => r.clientCpu);
  const workClient = med(x.workBoth, (r) => r.clientCpu);
  const left = os.availableParallelism() * 100 - server - echoClient - workClient;
  const cpu = `${n(server)} (${n(workBoth / 10)}) / ${n(echoClient)} / ${n(workClient)} / ${n(Math.max(0, left))}`;
  lines.push(
    `| ${s} | ${n(med(x.echoAlone, (r) => r.rps))} | ${n(p99Alone)} | ${n(med(x.echoBoth, (r) => r.rps))} | ${n(p99Both)} | ${(p99Both / p99Alone).toFixed(1)}× | ${n(workAlone)} | ${n(workBoth)} | ${(workBoth / workAlone).toFixed(2)} | ${cpu} | ${errors([...x.echoAlone, ...x.echoBoth])} | ${errors([...x.workAlone, ...x.workBoth])} |`,
  );
}
const md = `${lines.join('\n')}\n`;
process.stdout.write(md);
if (f['out'] !== undefined)
  writeFileSync(
    f['out'],
    `${md}\n<details><summary>every run</summary>\n\n\`\`\`json\n${JSON.stringify(Object.fromEntries(runs), null, 1)}\n\`\`\`\n</details>\n`,
  );
