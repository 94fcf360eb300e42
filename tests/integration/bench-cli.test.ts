import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnCli } from '../helpers/child.js';
import { startBenchServer } from '../helpers/bench-server.js';
import { freePort } from '../helpers/tcp.js';
import { RegistryServer, type Server } from '../../src/index.js';

/** `ringrpc bench` end to end: the built CLI against a real server. */
const test = suite('ringrpc bench');
const PROTO = 'proto/bench/v1/bench.proto';
let server: Server;
let target: string;
const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-bench-'));

test.before(async () => {
  ({ server, address: target } = await startBenchServer());
});
test.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function bench(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawnCli(['bench', ...args]);
  const code = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

test('--json prints exactly one object of the documented shape, and its counts add up', async () => {
  const r = await bench([target, 'bench.v1.Bench/Echo', '--proto', PROTO, '--data', '{"payload":"aGk="}', '-n', '500', '-c', '8', '--warmup', '0', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim().split('\n').length, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(Object.keys(out), ['requests', 'ok', 'errors', 'rps', 'durationMs', 'latencyUs']);
  assert.equal(Object.keys(out.latencyUs), ['min', 'mean', 'p50', 'p90', 'p99', 'p999', 'max']);
  assert.is(out.requests, 500);
  assert.is(out.ok + Object.values(out.errors as Record<string, number>).reduce((a, b) => a + b, 0), out.requests);
  assert.ok(out.rps > 0 && out.latencyUs.min <= out.latencyUs.p50 && out.latencyUs.p50 <= out.latencyUs.p99 && out.latencyUs.p99 <= out.latencyUs.max);
});

test('errors are counted by status: Sleep calls cut by --timeout are DEADLINE_EXCEEDED', async () => {
  const r = await bench([
    target,
    'bench.v1.Bench/Sleep',
    '--proto',
    PROTO,
    '--data',
    '{"ms":300}',
    '--timeout',
    '30',
    '-n',
    '20',
    '-c',
    '10',
    '--warmup',
    '0',
    '--json',
  ]);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.requests, 20);
  assert.is(out.ok, 0);
  assert.equal(out.errors, { DEADLINE_EXCEEDED: 20 });
});

test('--rate holds its rate within 10 %', async () => {
  const r = await bench([target, 'bench.v1.Bench/Echo', '--proto', PROTO, '--rate', '300', '-d', '2s', '--warmup', '200ms', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(Math.abs(out.rps - 300) / 300 <= 0.1, `ran at ${out.rps} req/s for --rate 300`);
  assert.ok(Math.abs(out.requests - 600) <= 60, `${out.requests} calls in 2 s`);
});

test('the table lists requests, ok, req/s and every percentile', async () => {
  const r = await bench([
    target,
    'bench.v1.Bench/Work',
    '--proto',
    PROTO,
    '--data',
    '{"payload":"YQ==","rounds":10}',
    '-d',
    '300ms',
    '--warmup',
    '0',
    '-c',
    '4',
    '--connections',
    '2',
  ]);
  assert.is(r.code, 0, r.stderr);
  for (const row of ['requests', 'ok', 'req/s', 'latency min', 'latency mean', 'latency p50', 'latency p90', 'latency p99', 'latency p99.9', 'latency max']) {
    assert.match(r.stdout, new RegExp(`^  ${row.replace('.', '\\.')} +[\\d,]+`, 'm'));
  }
  assert.not.ok(r.stderr.includes('\u001b['), 'no progress bar when stderr is not a terminal');
});

test('--html writes a well-formed, self-contained report', async () => {
  const file = path.join(dir, 'report.html');
  const r = await bench([target, 'bench.v1.Bench/Echo', '--proto', PROTO, '-d', '500ms', '--warmup', '0', '--html', file]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /report written to/);
  const html = readFileSync(file, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<\/html>\s*$/);
  assert.is((html.match(/<svg /g) ?? []).length, 3, 'histogram, percentiles over time, throughput over time');
  assert.is((html.match(/<svg /g) ?? []).length, (html.match(/<\/svg>/g) ?? []).length);
  assert.not.match(html, /<script|<link|<img|@import|url\(/i, 'nothing loaded from elsewhere');
  assert.not.match(html.replace(/xmlns="http:\/\/www.w3.org\/2000\/svg"/g, ''), /https?:\/\//, 'no network references');
  for (const label of [
    'Latency histogram',
    'Latency percentiles over time',
    'Throughput over time',
    'Settings',
    'Machine',
    'bench.v1.Bench/Echo',
    process.version,
  ]) {
    assert.ok(html.includes(label), `shows ${label}`);
  }
  assert.match(html, /<polyline [^>]*points="[\d., ]+"/);
});

for (const [name, args, pattern] of [
  ['unknown method', ['127.0.0.1:1', 'bench.v1.Bench/Nope', '--proto', PROTO], /UNIMPLEMENTED: unknown method Nope of bench.v1.Bench/],
  ['JSON that is not JSON', ['127.0.0.1:1', 'bench.v1.Bench/Echo', '--proto', PROTO, '--data', '{nope'], /INVALID_ARGUMENT: --data is not valid JSON/],
  ['JSON that does not fit the request', ['127.0.0.1:1', 'bench.v1.Bench/Work', '--proto', PROTO, '--data', '{"rounds":"many"}'], /INVALID_ARGUMENT: .*rounds/],
  [
    'a bad duration',
    ['127.0.0.1:1', 'bench.v1.Bench/Echo', '--proto', PROTO, '-d', 'soon'],
    /--duration must be a duration like 500ms, 10s or 2m \(got "soon"\)/,
  ],
  ['a missing data file', ['127.0.0.1:1', 'bench.v1.Bench/Echo', '--proto', PROTO, '--data-file', 'nope.json'], /--data-file nope.json: ENOENT/],
] as const) {
  test(`bad input (${name}) is one line and a non-zero exit`, async () => {
    const r = await bench([...args]); // rejected before any connection is made
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stderr, pattern);
    assert.is(r.stderr.trim().split('\n').length, 1);
  });
}

test('an unreachable target is one line and a non-zero exit', async () => {
  const port = await freePort();
  const r = await bench([`127.0.0.1:${port}`, 'bench.v1.Bench/Echo', '--proto', PROTO, '-d', '1s']);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`^ringrpc bench: UNAVAILABLE: cannot reach 127.0.0.1:${port}: cannot connect: ECONNREFUSED`));
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test('a registry URI as target: the load is spread over the registered servers; an unreachable registry is one line', async () => {
  const registry = new RegistryServer({ host: '127.0.0.1' });
  const { port } = await registry.listen(0, '127.0.0.1');
  const uri = `ringrpc://127.0.0.1:${port}`;
  const servers = await Promise.all([0, 1].map(() => startBenchServer({ registry: uri })));
  try {
    const r = await bench([uri, 'bench.v1.Bench/Echo', '--proto', PROTO, '-n', '400', '-c', '8', '--warmup', '0', '--json']);
    assert.is(r.code, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).ok, 400);
    const counts = servers.map((s) => s.server.stats().methods['bench.v1.Bench/Echo']!.requests);
    assert.ok(
      counts.every((n) => n >= 190),
      `both servers took their share: ${counts}`,
    );

    const call = spawnCli(['call', uri, 'bench.v1.Bench/Echo', '{"payload":"aGk="}', '--proto', PROTO]);
    assert.is(await call.exited, 0, call.stderr);
    assert.equal(JSON.parse(call.stdout), { payload: 'aGk=' });
  } finally {
    for (const s of servers) await s.server.close();
    await registry.close();
  }
  const gone = await bench([`${uri}?connectTimeoutMs=300`, 'bench.v1.Bench/Echo', '--proto', PROTO, '-d', '1s']);
  assert.is(gone.code, 1);
  assert.match(
    gone.stderr,
    new RegExp(`^ringrpc bench: UNAVAILABLE: cannot reach ringrpc://127.0.0.1:${port}\\?connectTimeoutMs=300: registry unreachable at 127.0.0.1:${port}`),
  );
  assert.is(gone.stderr.trim().split('\n').length, 1);
});

test.run();
