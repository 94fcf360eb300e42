import { spawn, type ChildProcess } from 'node:child_process';

/** A child process started for a test, with its output collected. */
export interface Child {
  readonly process: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/** Spawns `node --import tsx <args>` from the project root. */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return track(proc);
}

/** Spawns the built CLI, `dist/src/cli/bin.js`, as `npx ringrpc` would, or as `node <nodeFlags> bin.js` would. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): Child {
  const proc = spawn(process.execPath, [...nodeFlags, 'dist/src/cli/bin.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return track(proc);
}

/**
 * `ringrpc serve` of the bench service and handlers on 127.0.0.1, a free port, and `extra`
 * flags. `handlers` may name the compiled module (`npm run build:bench`), which starts in
 * half the time: the TypeScript one loads the library a second time, from its sources through tsx.
 */
export function spawnServe(extra: string[], env: NodeJS.ProcessEnv = {}, handlers = 'examples/bench/handlers.ts'): Child {
  const base = ['serve', '--proto', 'proto/bench/v1/bench.proto', '--handlers', handlers, '--host', '127.0.0.1', '--port', '0'];
  return spawnCli([...base, ...extra], env);
}

function track(proc: ChildProcess): Child {
  const child: Child = {
    process: proc,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1))),
  };
  proc.stdout!.on('data', (d: Buffer) => (child.stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (child.stderr += d.toString()));
  return child;
}

/** Waits until `pattern` appears in the child's stdout; returns the match. */
export async function waitForOutput(child: Child, pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(child.stdout);
    if (match) return match;
    if (child.process.exitCode !== null) throw new Error(`process exited (${child.process.exitCode}) before printing ${pattern}: ${child.stderr}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} after ${ms} ms; stdout: ${child.stdout} stderr: ${child.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the child prints a JSON line (`RINGRPC_LOG_FORMAT=json`) whose `msg` is `msg`; returns it parsed. */
export async function waitForJsonLine(child: Child, msg: string, ms = 15_000): Promise<Record<string, unknown>> {
  const quoted = JSON.stringify(msg).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [line] = await waitForOutput(child, new RegExp(`^\\{.*"msg":${quoted}.*\\}$`, 'm'), ms);
  return JSON.parse(line) as Record<string, unknown>;
}
