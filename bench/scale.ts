/**
 * `node dist/bench/scale.js` (after `npm run build && npm run build:bench`): the scale cases
 * of the systems ringrpc carries forward (issue 22, "Scale cases"). Server and client in
 * separate processes; memory from /proc (RSS) and, in the client, `process.memoryUsage()`.
 *
 * - in-flight: 20,000 Sleep calls (2 s each, inline: the server holds them all at once)
 *   issued together by the library client over 1, 8 and 64 connections. Reported: errors,
 *   p50/p99, and memory per in-flight call: the client's (heap + external + array buffers,
 *   after a GC, while all 20,000 are pending, less the same before) and the server's RSS growth.
 * - idle: 10,000 connections that only keep alive (a PING every 5 s, as the client's
 *   keepalive does), opened by a raw-protocol client; server RSS per connection after
 *   they have all pinged twice.
 *
 *   --cases inflight,idle --calls 20000 --connections 1,8,64 --idle 10000 --out <file.md>
 */
import net from 'node:net';
import os from 'node:os';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createClient } from '../src/index.js';
import { Bench } from '../examples/bench/generated.js';
import { compiled, flags, startNode, stop } from './lib/proc.js';
import { waitForIdle } from './lib/machine.js';
import { spawn } from 'node:child_process';

const f = flags(process.argv.slice(2));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

// ---------------------------------------------------------------------------------------
// Client roles (child processes: `--role inflight|idle`).
// ---------------------------------------------------------------------------------------

/** What the client sees of its own memory: JS heap, external and array buffers, after a GC. */
function clientBytes(): number {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function inflightRole(): Promise<void> {
  const port = Number(f['port']);
  const calls = Number(f['calls']);
  const connectionsPerEndpoint = Number(f['conns']);
  const serverPid = Number(f['pid']);
  const client = createClient(Bench, `127.0.0.1:${port}`, { timeoutMs: 60_000, pool: { connectionsPerEndpoint } });
  // Warm: every connection open, every code path compiled.
  await Promise.all(Array.from({ length: connectionsPerEndpoint * 4 }, () => client.sleep({ ms: 1 })));
  await sleep(200);
  const before = clientBytes();
  const rss0 = process.memoryUsage().rss;
  const serverRss0 = rss(serverPid);
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const all = Array.from({ length: calls }, () => {
    const started = performance.now();
    return client.sleep({ ms: 2000 }).then(
      () => latencies.push((performance.now() - started) * 1000),
      () => errors++,
    );
  });
  await sleep(1000); // all sent, none answered yet (each sleeps 2 s)
  const during = clientBytes();
  const rss1 = process.memoryUsage().rss;
  const serverRss1 = rss(serverPid);
  await Promise.all(all);
  const wall = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  await client.$close();
  const out = {
    calls,
    connections: connectionsPerEndpoint,
    errors,
    ok: latencies.length,
    p50Us: pct(0.5),
    p99Us: pct(0.99),
    wallMs: wall,
    clientBytesPerCall: (during - before) / calls,
    clientRssPerCall: (rss1 - rss0) / calls,
    serverRssPerCall: (serverRss1 - serverRss0) / calls,
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

/** A PING frame: magic, version 1, type 3, request_id, empty meta and body. */
function ping(id: number): Buffer {
  const b = Buffer.alloc(16);
  b.write('RR', 0, 'latin1');
  b[2] = 1;
  b[3] = 3;
  b.writeUInt32BE(id, 4);
  return b;
}

async function idleRole(): Promise<void> {
  const port = Number(f['port']);
  const count = Number(f['idle']);
  const serverPid = Number(f['pid']);
  const before = rss(serverPid);
  const sockets: net.Socket[] = [];
  let pongs = 0;
  let closed = 0;
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    // PONGs to count, the server's own PINGs to answer (with PONG, same id and body).
    let pending: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      let at = 0;
      while (pending.length - at >= 16) {
        const end = at + 16 + pending.readUInt32BE(at + 8) + pending.readUInt32BE(at + 12);
        if (end > pending.length) break;
        if (pending[at + 3] === 4) pongs++;
        else if (pending[at + 3] === 3) s.write(Buffer.from(pending.subarray(at, end)).fill(4, 3, 4));
        at = end;
      }
      pending = pending.subarray(at);
    });
    s.on('error', () => {});
    s.on('close', () => closed++);
    // The first frame at once: opening 10,000 sockets can take longer than firstFrameTimeoutMs.
    s.once('connect', () => s.write(ping(1)));
    sockets.push(s);
    if (i % 500 === 499) await Promise.all(sockets.slice(-500).map((x) => (x.connecting ? once(x, 'connect') : undefined)));
  }
  await Promise.all(sockets.map((x) => (x.connecting ? once(x, 'connect') : undefined)));
  // Then a PING every 5 s.
  const rounds = 3;
  for (let r = 1; r <= rounds; r++) {
    if (r > 1) for (const s of sockets) s.write(ping(r));
    await sleep(r === rounds ? 1000 : 5000);
  }
  const after = rss(serverPid);
  const out = { connections: count, closed, pongs, serverRssPerConnection: (after - before) / count, serverRssBefore: before, serverRssAfter: after };
  for (const s of sockets) s.destroy();
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

if (f['role'] === 'inflight') {
  await inflightRole();
  process.exit(0);
}
if (f['role'] === 'idle') {
  await idleRole();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// The runner.
// ---------------------------------------------------------------------------------------

async function runRole(args: string[]): Promise<Record<string, number>> {
  const child = spawn(process.execPath, ['--expose-gc', compiled('bench/scale.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`scale ${args.join(' ')} gave no RESULT: ${out}`);
  return JSON.parse(line.slice(7)) as Record<string, number>;
}

const cases = (f['cases'] ?? 'inflight,idle').split(',');
const calls = Number(f['calls'] ?? 20_000);
const idle = Number(f['idle'] ?? 10_000);
const lines = [
  `# Scale, ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}); server and client in separate processes.`,
];
const kb = (b: number) => (b / 1024).toFixed(2);

if (cases.includes('inflight')) {
  lines.push(
    '',
    `## ${calls.toLocaleString('en-US')} calls in flight (Sleep 2 s, inline), library client`,
    '',
    '| connections | ok | errors | p50 ms | p99 ms | client heap+external KB/call | client RSS KB/call | server RSS KB/call |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const conns of (f['connections'] ?? '1,8,64').split(',').map(Number)) {
    await waitForIdle();
    const server = await startNode('bench/servers/ringrpc-server.ts', ['--port', '0'], /READY (\d+)/);
    try {
      const r = await runRole([
        '--role',
        'inflight',
        '--port',
        server.match[1]!,
        '--pid',
        String(server.proc.pid),
        '--calls',
        String(calls),
        '--conns',
        String(conns),
      ]);
      lines.push(
        `| ${conns} | ${r['ok']} | ${r['errors']} | ${(r['p50Us']! / 1000).toFixed(0)} | ${(r['p99Us']! / 1000).toFixed(0)} | ${kb(r['clientBytesPerCall']!)} | ${kb(r['clientRssPerCall']!)} | ${kb(r['serverRssPerCall']!)} |`,
      );
    } finally {
      await stop(server.proc);
    }
  }
}
if (cases.includes('idle')) {
  await waitForIdle();
  const server = await startNode('bench/servers/ringrpc-server.ts', ['--port', '0', '--max-connections', String(idle)], /READY (\d+)/);
  try {
    await sleep(500);
    const r = await runRole(['--role', 'idle', '--port', server.match[1]!, '--pid', String(server.proc.pid), '--idle', String(idle)]);
    lines.push(
      '',
      `## ${idle.toLocaleString('en-US')} idle connections with keepalive (a PING every 5 s)`,
      '',
      '| connections | closed by the server | PONGs | server RSS before MB | after MB | server RSS KB/connection |',
      '|---|---|---|---|---|---|',
      `| ${r['connections']} | ${r['closed']} | ${r['pongs']} | ${(r['serverRssBefore']! / 2 ** 20).toFixed(1)} | ${(r['serverRssAfter']! / 2 ** 20).toFixed(1)} | ${kb(r['serverRssPerConnection']!)} |`,
    );
  } finally {
    await stop(server.proc);
  }
}
const md = `${lines.join('\n')}\n`;
process.stdout.write(md);
if (f['out'] !== undefined) writeFileSync(f['out'], md);
