/**
 * `node dist/bench/attacks.js` (after `npm run build`): hostile clients against a ringrpc
 * server in its own process, while a canary connection, in a third, sends a 64 B Echo
 * every 5 ms. For each attack: the canary's
 * p50/p99/max latency and lost calls (no answer within 2 s), the server's peak RSS, and
 * when the server closed the attacking connections.
 *
 *   --server <compiled server script> (default: this build's bench/servers/ringrpc-server)
 *   --attacks flood,slowloris,partial,slow-readers (default all)
 *
 * `--server` may point at another build (an older checkout's) to compare before and after.
 */
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { encodeFrame, encodeMeta, FrameDecoder, FrameType, HEADER_BYTES, writeHeader } from '../src/internal.js';
import { Bench } from '../examples/bench/generated.js';
import { compiled, flags, stop } from './lib/proc.js';

const f = flags(process.argv.slice(2));
const serverScript = f['server'] ?? compiled('bench/servers/ringrpc-server.ts');
const attacks = (f['attacks'] ?? 'flood,slowloris,partial,slow-readers').split(',');
const echoMeta = encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' });
const echo = (payload: Uint8Array): Uint8Array => Bench.methods.echo.requestType.encode({ payload }).finish();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bare 16-byte header declaring `metaLength` and `bodyLength` (what follows is up to the caller). */
function header(type: FrameType, requestId: number, metaLength: number, bodyLength: number): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  writeHeader(head, 0, type, requestId, metaLength, bodyLength);
  return head;
}

async function connect(port: number): Promise<net.Socket & { closedAt?: number }> {
  const socket = net.connect({ host: '127.0.0.1', port }) as net.Socket & { closedAt?: number };
  socket.on('error', () => {});
  socket.on('close', () => (socket.closedAt = Date.now()));
  socket.resume(); // read (and drop) what the server sends, so its FIN is seen
  await once(socket, 'connect');
  return socket;
}

/**
 * The canary: Echo every 5 ms on one connection, in a process of its own (an attack's
 * writes would stall its event loop and its figures with it). It prints its latencies
 * and the calls lost (no answer within 2 s) as JSON when told to stop.
 */
async function canaryMain(port: number): Promise<void> {
  const socket = await connect(port);
  const sent = new Map<number, number>();
  const latenciesMs: number[] = [];
  let lost = 0;
  const decoder = new FrameDecoder((frame) => {
    const at = sent.get(frame.requestId);
    if (at === undefined) return;
    sent.delete(frame.requestId);
    latenciesMs.push(performance.now() - at);
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  let id = 0;
  const body = echo(Buffer.alloc(64));
  const timer = setInterval(() => {
    const now = performance.now();
    for (const [rid, at] of sent) {
      if (now - at <= 2000) continue;
      sent.delete(rid);
      lost++;
    }
    if (socket.destroyed) return void lost++;
    sent.set(++id, now);
    socket.write(encodeFrame(FrameType.REQUEST, id, echoMeta, body));
  }, 5);
  process.stdout.write('CANARY READY\n');
  await once(process.stdin, 'data');
  clearInterval(timer);
  await sleep(500);
  process.stdout.write(`${JSON.stringify({ latenciesMs, lost: lost + sent.size })}\n`);
  process.exit(0);
}

async function canary(port: number): Promise<{ stop(): Promise<{ latenciesMs: number[]; lost: number }> }> {
  const child = spawn(process.execPath, [process.argv[1]!, '--canary', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('CANARY READY')) await sleep(10);
  return {
    async stop() {
      child.stdin!.write('stop\n');
      await once(child, 'exit');
      return JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { latenciesMs: number[]; lost: number };
    },
  };
}

/** Each attack opens its sockets, runs, and returns them (closed by the runner). */
const ATTACKS: Record<string, { readonly seconds: number; run(port: number): Promise<Array<net.Socket & { closedAt?: number }>> }> = {
  // Four REQUESTs whose Meta is a million empty metadata entries (2 MB each).
  flood: {
    seconds: 8,
    async run(port) {
      const flood = Buffer.concat([Buffer.from(echoMeta), Buffer.alloc(2_000_000).fill(Buffer.from([0x3a, 0x00]))]);
      const sockets = await Promise.all([1, 2, 3, 4].map(() => connect(port)));
      for (const s of sockets) s.write(Buffer.concat([header(FrameType.REQUEST, 1, flood.length, 0), flood]));
      return sockets;
    },
  },
  // 100 connections sending PINGs one byte a second.
  slowloris: {
    seconds: 15,
    async run(port) {
      const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(port)));
      const ping = encodeFrame(FrameType.PING, 1, new Uint8Array(0), new Uint8Array(0));
      let i = 0;
      const timer = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(ping.subarray(i % ping.length, (i % ping.length) + 1));
        i++;
      }, 1000);
      setTimeout(() => clearInterval(timer), 15_000).unref();
      return sockets;
    },
  },
  // 60 connections each sending 15 MiB of a 16 MiB frame, then nothing.
  partial: {
    seconds: 8,
    async run(port) {
      const sockets = await Promise.all(Array.from({ length: 60 }, () => connect(port)));
      const part = Buffer.alloc(15 * 1024 * 1024);
      for (const s of sockets) s.write(Buffer.concat([header(FrameType.REQUEST, 1, echoMeta.length, 16 * 1024 * 1024 - 64 - echoMeta.length), echoMeta, part]));
      return sockets;
    },
  },
  // 30 connections asking for a 16 MiB Echo each and never reading the answer.
  'slow-readers': {
    seconds: 8,
    async run(port) {
      const request = encodeFrame(FrameType.REQUEST, 1, echoMeta, echo(Buffer.alloc(16 * 1024 * 1024 - 1024)));
      const sockets = await Promise.all(Array.from({ length: 30 }, () => connect(port)));
      for (const s of sockets) {
        s.pause();
        s.write(request);
      }
      return sockets;
    },
  },
};

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const pct = (sorted: number[], q: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

if (f['canary'] !== undefined) await canaryMain(Number(f['canary']));

const rows: string[] = [];
for (const name of attacks) {
  const attack = ATTACKS[name];
  if (attack === undefined) throw new Error(`unknown attack ${name} (known: ${Object.keys(ATTACKS).join(', ')})`);
  const proc = spawn(process.execPath, [serverScript, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
  const port = Number(/READY (\d+)/.exec(line.toString())![1]);
  const baseRss = rssMb(proc.pid!);
  let peakRss = baseRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(proc.pid!))), 50);
  const probe = await canary(port);
  await sleep(500);
  const startedAt = Date.now();
  const sockets = await attack.run(port);
  await sleep(attack.seconds * 1000);
  const { latenciesMs, lost } = await probe.stop();
  clearInterval(sampler);
  const closed = sockets.filter((s) => s.closedAt !== undefined);
  const lastClose = closed.length === 0 ? NaN : Math.max(...closed.map((s) => s.closedAt! - startedAt));
  for (const s of sockets) s.destroy();
  await stop(proc);
  const sorted = latenciesMs.sort((a, b) => a - b);
  rows.push(
    `| ${name} | ${sorted.length} | ${lost} | ${pct(sorted, 0.5).toFixed(2)} | ${pct(sorted, 0.99).toFixed(2)} | ${sorted.at(-1)?.toFixed(1)} | ${baseRss.toFixed(0)} → ${peakRss.toFixed(0)} | ${closed.length}/${sockets.length}${closed.length ? ` by ${(lastClose / 1000).toFixed(1)} s` : ''} |`,
  );
  process.stderr.write(`${rows.at(-1)}\n`);
}
process.stdout.write(
  `server: ${serverScript}\n\n| attack | canary calls | lost | p50 ms | p99 ms | max ms | server RSS MB (start → peak) | attackers closed |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
