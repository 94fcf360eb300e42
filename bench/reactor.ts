/**
 * `node dist/bench/reactor.js` (after `npm run build && npm run build:bench`): what the
 * reactor spends per call, measured in one process with no socket and no kernel in the way.
 *
 * Each case is a real server (`createServer`, the bench service, Echo on the inline lane)
 * listening as usual, handed one in-memory connection: a Duplex that stands in for the TCP
 * socket (the server accepts it like any other, through its `net.Server`'s `connection`
 * event), whose reads are whole batches of REQUEST frames and whose writes are counted and
 * dropped. A batch of `--concurrency` Echo requests goes in as one read; the next goes in
 * once every answer of the last has been written. So the figure is the reactor's own work
 * per call (frame decoding, routing, admission, interceptors, the handler, encoding, the
 * batched write) without the read and write syscalls that dominate an end-to-end run and
 * make its per-call differences noisy: an interceptor's cost shows to a few nanoseconds.
 *
 * Cases: `none` (no interceptor), `pass` (one pass-through interceptor, `(call, next) =>
 * next()`), `async` (the same as an async function), `tracing` (ringrpc's tracing
 * interceptor over the OpenTelemetry SDK with an exporter that drops spans). They run in
 * interleaved rounds, in a child process (tracing in one of its own: its context manager
 * slows every promise of the process); the cost of a case is the median over rounds of
 * its time per call minus the no-interceptor case's in the same round and process.
 *
 *   --rounds 7 --calls 500000 --concurrency 256 --cases none,pass,async,tracing --out <file.md>
 *
 * `--baseline <dir>`: compares this build with another one instead (the `dist` directory of
 * another checkout, built with `npm run build && npm run build:bench`), case by case (by
 * default `none`: the reactor's own cost). Each round runs one process of each build, one
 * after the other and in turn first, so that the machine's drift hits both alike; each process warms up, then
 * measures 3 stretches. The table gives both medians and their ratio.
 */
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import type { Server as NetServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer, type Server, type ServerInterceptor } from '../src/index.js';
import { Bench } from '../examples/bench/generated.js';
import { Bench as handlers } from '../examples/bench/handlers.js';
import { flags, startNode, stop } from './lib/proc.js';
import { frame, lengthDelimited, metaStatus, utf8 } from './lib/raw-protocol.js';
import { median } from './lib/median.js';

const f = flags(process.argv.slice(2));
const rounds = Number(f['rounds'] ?? 7);
const callsPerRound = Number(f['calls'] ?? 500_000);
const concurrency = Number(f['concurrency'] ?? 256);
const cases = (f['cases'] ?? 'none,pass,async,tracing').split(',');
const LABEL: Record<string, string> = {
  none: 'no interceptor',
  pass: 'one pass-through interceptor, (call, next) => next()',
  async: 'one pass-through interceptor, async (call, next) => next()',
  tracing: 'tracing on, no-op exporter',
};

const HEADER = 16;
const REQUEST = 1;
const RESPONSE = 2;

/** `concurrency` Echo 64 B REQUEST frames in one buffer, request ids 1…n: one read's worth. */
function requestBatch(): Buffer {
  const meta = Uint8Array.from([...lengthDelimited(1, utf8('bench.v1.Bench')), ...lengthDelimited(2, utf8('Echo'))]);
  const body = Uint8Array.from(lengthDelimited(1, new Uint8Array(64).fill(7)));
  return Buffer.concat(Array.from({ length: concurrency }, (_, i) => frame(REQUEST, i + 1, meta, body)));
}

/**
 * The server's end of an in-memory connection: what it writes is parsed for RESPONSE frames
 * (a frame may span writes) and dropped; `answered` resolves once `expect` responses came.
 */
class MemorySocket extends Duplex {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  private pending = Buffer.alloc(0);
  private waiting = 0;
  private wake: (() => void) | undefined;
  failures = 0;

  setNoDelay(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.parse(chunk);
    done();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    for (const { chunk } of chunks) this.parse(chunk);
    done();
  }

  /** Resolves once `n` more RESPONSE frames have been written. */
  answered(n: number): Promise<void> {
    this.waiting = n;
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private parse(chunk: Buffer): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= HEADER) {
      const size = HEADER + buf.readUInt32BE(8) + buf.readUInt32BE(12);
      if (buf.length < size) break;
      if (buf[3] === RESPONSE) {
        if (metaStatus(buf, HEADER, HEADER + buf.readUInt32BE(8)) !== 0) this.failures++;
        if (--this.waiting === 0) this.wake?.();
      }
      buf = buf.subarray(size);
    }
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }
}

interface Case {
  readonly name: string;
  readonly server: Server;
  readonly socket: MemorySocket;
}

async function openCase(name: string, tracing: ServerInterceptor | undefined): Promise<Case> {
  const interceptors: ServerInterceptor[] = [];
  if (name === 'pass') interceptors.push((_call, next) => next());
  else if (name === 'async') interceptors.push(async (_call, next) => next());
  else if (name === 'tracing') interceptors.push(tracing!);
  else if (name !== 'none') throw new Error(`--cases: ${name} is none of none, pass, async, tracing`);
  const server = createServer({ host: '127.0.0.1', port: 0, interceptors, maxQueue: 4096 }).addService(Bench, handlers);
  await server.listen();
  const socket = new MemorySocket();
  // The server takes it as it takes every accepted socket; its own listener is never connected to.
  (server as unknown as { netServer: NetServer }).netServer.emit('connection', socket);
  return { name, server, socket };
}

const batch = requestBatch();

// A full collection before each measured stretch, so that no case pays for the garbage of
// the one before it (a major GC landing in a round otherwise dominates its difference).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Runs `calls` Echo calls through `c`, a batch at a time: ns per call, wall clock (one thread, no I/O wait). */
async function drive(c: Case, calls: number): Promise<number> {
  collectGarbage();
  const batches = Math.ceil(calls / concurrency);
  const started = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    const answered = c.socket.answered(concurrency);
    c.socket.emit('data', batch);
    await answered;
  }
  return Number(process.hrtime.bigint() - started) / (batches * concurrency);
}

/** Runs `cases` in this process, interleaved: ns per call of each case, per round. */
async function measureCases(names: string[]): Promise<Record<string, number[]>> {
  const tracingSetup = names.includes('tracing') ? await (await import('./lib/tracing.js')).benchTracing() : undefined;
  const opened: Case[] = [];
  for (const name of names) opened.push(await openCase(name, tracingSetup?.server));
  for (const c of opened) await drive(c, callsPerRound); // warm-up: optimised code for every case
  const perCall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of opened) {
      perCall[c.name]!.push(await drive(c, callsPerRound));
      process.stderr.write(`round ${r + 1}/${rounds} ${c.name}: ${perCall[c.name]!.at(-1)!.toFixed(0)} ns/call\n`);
    }
  }
  for (const c of opened) {
    if (c.socket.failures > 0) throw new Error(`${c.name}: ${c.socket.failures} calls failed: the figures measure errors, not calls`);
    c.socket.destroy();
    await c.server.shutdown({ graceMs: 100 });
  }
  await tracingSetup?.shutdown();
  return perCall;
}

if (f['group'] !== undefined) {
  // A child of the run below: one group of cases, its figures on one line.
  process.stdout.write(`RESULT ${JSON.stringify(await measureCases(f['group'].split(',')))}\n`);
  process.exit(0);
}

if (f['baseline'] !== undefined) {
  const report = await compareWithBaseline(f['baseline'], f['cases'] === undefined ? ['none'] : cases);
  process.stdout.write(report);
  if (f['out'] !== undefined) writeFileSync(f['out'], report);
  process.exit(0);
}

/** The `--baseline` run: this build against another, process by process, interleaved. */
async function compareWithBaseline(dir: string, names: string[]): Promise<string> {
  const builds = [
    { label: 'this build', script: 'bench/reactor.ts' },
    { label: `baseline (${dir})`, script: path.join(dir, 'bench', 'reactor.js') },
  ];
  const perCall = builds.map(() => Object.fromEntries(names.map((n) => [n, [] as number[]])));
  for (let r = 0; r < rounds; r++) {
    // ABBA: each build goes first in every other round, so a drift within a round favours neither.
    for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const build = builds[i]!;
      const args = ['--group', names.join(','), '--rounds', '3', '--calls', String(callsPerRound), '--concurrency', String(concurrency)];
      const child = await startNode(build.script, args, /RESULT (.+)/, 30 * 60_000);
      await stop(child.proc);
      const result = JSON.parse(child.match[1]!) as Record<string, number[]>;
      for (const n of names) perCall[i]![n]!.push(...result[n]!);
      process.stderr.write(`round ${r + 1}/${rounds} ${build.label}: ${names.map((n) => `${n} ${median(result[n]!).toFixed(0)}`).join(', ')} ns/call\n`);
    }
  }
  const rows = names.map((n) => {
    const [mine, base] = [median(perCall[0]![n]!), median(perCall[1]![n]!)];
    return `| ${LABEL[n] ?? n} | ${mine.toFixed(0)} | ${base.toFixed(0)} | ${(mine / base).toFixed(3)} |`;
  });
  return [
    `# Reactor cost per call, this build against a baseline, ${new Date().toISOString()}`,
    '',
    `Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}. Echo 64 B on the inline lane, ${concurrency} requests per read over one in-memory connection; ${rounds} rounds, each one process of each build (3 stretches of ${callsPerRound.toLocaleString('en-US')} calls after a warm-up); medians of all stretches. Baseline: ${dir}.`,
    '',
    '| case | this build ns/call | baseline ns/call | ratio |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

// Tracing registers an AsyncLocalStorage context manager, which makes every promise of the
// process cost more: its case runs in a process of its own, against its own baseline.
const groups = [cases.filter((c) => c !== 'tracing'), ...(cases.includes('tracing') ? [['none', 'tracing']] : [])].filter((g) => g.length > 0);
const rows: string[] = [];
for (const group of groups) {
  if (group[0] !== 'none') group.unshift('none');
  const child = await startNode(
    'bench/reactor.ts',
    ['--group', group.join(','), '--rounds', String(rounds), '--calls', String(callsPerRound), '--concurrency', String(concurrency)],
    /RESULT (.+)/,
    30 * 60_000,
  );
  await stop(child.proc);
  const perCall = JSON.parse(child.match[1]!) as Record<string, number[]>;
  const base = perCall['none']!;
  for (const name of group) {
    if (name === 'none' && rows.length > 0) continue; // one baseline row: the first process's
    const xs = perCall[name]!;
    const cost = name === 'none' ? '–' : median(xs.map((x, i) => x - base[i]!)).toFixed(0);
    const baseNote = name === 'tracing' ? ` (own process; its baseline ${median(base).toFixed(0)})` : '';
    rows.push(`| ${LABEL[name] ?? name}${baseNote} | ${median(xs).toFixed(0)} | ${cost} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`);
  }
}
const report = [
  `# Reactor cost per call, in process, ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}. Echo 64 B on the inline lane, ${concurrency} requests per read over one in-memory connection (no socket, no syscalls); ${rounds} interleaved rounds of ${callsPerRound.toLocaleString('en-US')} calls after a warm-up; medians. The cost of a case is the median over rounds of its ns/call minus the no-interceptor case's in the same round and process.`,
  '',
  '| case | ns/call | cost ns/call vs no interceptor | per round ns/call |',
  '|---|---|---|---|',
  ...rows,
  '',
].join('\n');
process.stdout.write(report);
if (f['out'] !== undefined) writeFileSync(f['out'], report);
