/**
 * Runs every `*.test.ts` under tests/ with uvu, in one process. A test file that leaves a
 * socket, server or timer open would keep the process alive: after the run, anything
 * still holding the event loop is reported and fails the run, since every test must
 * close what it opens. A run that hangs fails after RINGRPC_TEST_TIMEOUT_S (default 1,200 s;
 * a whole run takes 5–8 minutes here): the output above names the file it stopped in.
 * At the end, the slowest files are listed with their wall time (importing the file plus
 * running its suites); RINGRPC_TEST_TIMES=N lists N of them (default 15, 0 for none).
 */
import { parse } from 'uvu/parse';

type Runner = () => Promise<unknown>;
type Group = [string | null, ...Runner[]];
const g = globalThis as typeof globalThis & { UVU_DEFER?: number; UVU_INDEX?: number; UVU_QUEUE: Group[] };

const pattern = process.argv[2] ?? '\\.test\\.ts$';
const limitS = Number(process.env.RINGRPC_TEST_TIMEOUT_S ?? 1200);
const listed = Number(process.env.RINGRPC_TEST_TIMES ?? 15);
setTimeout(() => {
  process.stderr.write(`\ntests still running after ${limitS} s: the file printed last hangs\n`);
  process.exit(1);
}, limitS * 1000).unref();

const { suites } = await parse('tests', pattern, {});

// What uvu/run's run() does, with each file's import and each of its suites timed: the
// file's queue entry gets its suites' runners, wrapped here to add up their wall time.
g.UVU_DEFER = 1;
const uvu = await import('uvu');
const took = new Map<string, number>();
for (const [index, suite] of suites.entries()) {
  g.UVU_INDEX = index;
  g.UVU_QUEUE.push([suite.name]);
  const t0 = performance.now();
  await import(`file:///${suite.file}`);
  took.set(suite.name, performance.now() - t0);
}
for (const group of g.UVU_QUEUE) {
  const name = group[0];
  if (name == null) continue;
  for (let i = 1; i < group.length; i++) {
    const runner = group[i] as Runner;
    group[i] = async () => {
      const t0 = performance.now();
      try {
        return await runner();
      } finally {
        took.set(name, (took.get(name) ?? 0) + performance.now() - t0);
      }
    };
  }
}
await uvu.exec(false);

if (listed > 0) {
  const slowest = [...took].sort((a, b) => b[1] - a[1]).slice(0, listed);
  process.stdout.write(`  Slowest files (wall time, import + suites):\n`);
  for (const [name, ms] of slowest) process.stdout.write(`  ${(ms / 1000).toFixed(2).padStart(8)} s  ${name}\n`);
  process.stdout.write('\n');
}

const failed = process.exitCode !== undefined && process.exitCode !== 0;
setTimeout(() => {
  const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
  if (open.length > 0) {
    process.stderr.write(`\ntests left resources open: ${open.join(', ')}\n`);
    process.exit(1);
  }
  process.exit(failed ? 1 : 0);
}, 500).unref();
