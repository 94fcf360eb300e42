import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** CPU time (user + system) of a process, in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * The compiled form of a bench script (`bench/servers/x.ts` → `dist/bench/servers/x.js`).
 * Benchmarks measure what a deployment runs, the build, not the sources through tsx's
 * loader, which costs CPU-heavy worker handlers several per cent (docs/design.md).
 */
export function compiled(script: string): string {
  if (script.endsWith('.js')) return script; // compiled already (another build's, e.g. a baseline's)
  const out = path.join('dist', script.replace(/\.ts$/, '.js'));
  if (!existsSync(out)) throw new Error(`${out} is missing: run "npm run build" first (npm run bench does)`);
  return out;
}

/** `node <compiled script> args` (see {@link compiled}), and its first line matching a pattern. */
export async function startNode(
  script: string,
  args: string[],
  ready: RegExp,
  timeoutMs = 20_000,
): Promise<{ proc: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const proc = spawn(process.execPath, [compiled(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const started = Date.now();
  for (;;) {
    const m = ready.exec(out);
    if (m) return { proc, match: m, output: () => out };
    if (proc.exitCode !== null) throw new Error(`${script} exited ${proc.exitCode}: ${err}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${script} not ready after ${timeoutMs} ms: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops a process and waits for it. */
export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Parses `--name value` pairs. */
export function flags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i]!.replace(/^--/, '')] = argv[i + 1]!;
  return out;
}
