// A gRPC load generator that is not Node: h2load (Debian's nghttp2-client, a C HTTP/2
// client) posting one framed Echo request over and over, so that a gRPC server is measured
// alone (the grpc-js client needs more CPU per call than either server: see
// ../shared/research/anchors-perf.md). h2load counts any HTTP 200 as a success, so one call
// is first checked for grpc-status 0 with node:http2, and the run fails otherwise.
//
//   --port --pid --duration --warmup [--connections 4 --streams 64 --payload 64]
//
// Prints RESULT like the other bench clients; h2load gives no percentiles, so p50/p99 are
// 0 (shown as "–") and the mean latency is in latencyUs.mean. Client CPU is h2load's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ClientResult } from '../lib/client-main.js';
import { flags, processCpuMs } from '../lib/proc.js';
import { lengthDelimited } from '../lib/raw-protocol.js';

const f = flags(process.argv.slice(2));
const port = Number(f['port']);
const serverPid = Number(f['pid']);
const durationMs = Number(f['duration'] ?? 5000);
const warmupMs = Number(f['warmup'] ?? 1000);
const PATH = '/bench.v1.Bench/Echo';

// A gRPC message: compressed flag 0, 4-byte big-endian length, then EchoRequest { payload }.
const message = Uint8Array.from(lengthDelimited(1, new Uint8Array(Number(f['payload'] ?? 64)).fill(7)));
const framed = Buffer.alloc(5 + message.length);
framed.writeUInt32BE(message.length, 1);
framed.set(message, 5);

/** One real call: the server must answer grpc-status 0, or h2load's successes mean nothing. */
async function checkOneCall(): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    stream.on('trailers', (t) => (status = String(t['grpc-status'])));
    stream.on('response', (h) => (status ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])));
    stream.resume();
    stream.end(framed);
    await once(stream, 'close');
    if (status !== '0') throw new Error(`${PATH} answered grpc-status ${status}: h2load would count failures as successes`);
  } finally {
    session.close();
  }
}

await checkOneCall();
const dir = mkdtempSync(path.join(tmpdir(), 'h2load-'));
const body = path.join(dir, 'echo.grpc');
writeFileSync(body, framed);
const args = [
  '-D',
  String(durationMs / 1000),
  `--warm-up-time=${warmupMs / 1000}`,
  '-c',
  String(f['connections'] ?? 4),
  '-m',
  String(f['streams'] ?? 64),
  '-d',
  body,
  '-H',
  'content-type: application/grpc',
  '-H',
  'te: trailers',
  `http://127.0.0.1:${port}${PATH}`,
];
const h2load = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
h2load.on('error', (err) => {
  process.stderr.write(`h2load did not start (${err.message}): apt-get install nghttp2-client\n`);
  process.exit(1);
});
let out = '';
h2load.stdout.on('data', (d: Buffer) => (out += d.toString()));
h2load.stderr.on('data', (d: Buffer) => (out += d.toString()));
// The measured window: from the end of h2load's warm-up to the end of its duration.
let s0 = 0;
let c0 = 0;
let s1 = 0;
let c1 = 0;
setTimeout(() => {
  s0 = processCpuMs(serverPid);
  c0 = processCpuMs(h2load.pid!);
}, warmupMs);
setTimeout(
  () => {
    s1 = processCpuMs(serverPid);
    c1 = processCpuMs(h2load.pid!);
  },
  warmupMs + durationMs - 50,
);
const [code] = (await once(h2load, 'exit')) as [number];
if (code !== 0) throw new Error(`h2load exited ${code}: ${out}`);

const number = (re: RegExp): number => {
  const m = re.exec(out);
  if (m === null) throw new Error(`h2load's output has no ${re}: ${out}`);
  return Number(m[1]);
};
const rps = number(/finished in [\d.]+m?s, ([\d.]+) req\/s/);
const succeeded = number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/);
const done = number(/requests: \d+ total, \d+ started, (\d+) done/);
const meanMatch = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
const meanUs = meanMatch === null ? 0 : Number(meanMatch[1]) * (meanMatch[2] === 's' ? 1e6 : meanMatch[2] === 'ms' ? 1e3 : 1);
const windowMs = durationMs - 50;
const result: ClientResult = {
  requests: done,
  ok: succeeded,
  errors: done > succeeded ? { 'not 2xx': done - succeeded } : {},
  rps,
  durationMs,
  latencyUs: { min: 0, mean: meanUs, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
  clientCpu: Math.round(((c1 - c0) / windowMs) * 100),
  serverCpu: Math.round(((s1 - s0) / windowMs) * 100),
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
