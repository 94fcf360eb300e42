import { execFile } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnCli, waitForOutput, waitForJsonLine, type Child, spawnServe } from '../helpers/child.js';
import { work } from '../../examples/bench/handlers.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { encode, open, runStream } from '../helpers/raw-stream.js';

/** The built CLI (`dist/src/cli/bin.js`, what `npx ringrpc` runs), end to end. */
const test = suite('cli serve + call');
const PROTO = 'proto/bench/v1/bench.proto';
/**
 * The compiled bench handlers (`npm run build:bench`), for serves that test something other
 * than loading TypeScript (which the shared serve and the lane tests do): they start sooner.
 */
const COMPILED_HANDLERS = 'dist/examples/bench/handlers.js';

let serveChild: Child;
let target: string;

test.before(async () => {
  serveChild = spawnCli(['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts', '--host', '127.0.0.1', '--port', '0']);
  const [, host, port] = await waitForOutput(serveChild, /ringrpc listening on ([\d.]+):(\d+)/);
  target = `${host}:${port}`;
});

test.after(async () => {
  serveChild.process.kill('SIGTERM');
  const code = await serveChild.exited;
  assert.is(code, 0, 'serve exits 0 after SIGTERM');
  assert.match(serveChild.stderr, /shutting down signal=SIGTERM/);
  assert.match(serveChild.stderr, /stopped/);
});

/** Runs a program to its end. */
function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

async function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawnCli(args, env);
  const code = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

test('call prints the reply as proto3 JSON (bytes as base64)', async () => {
  const r = await cli(['call', target, 'bench.v1.Bench/Echo', '{"payload":"aGVsbG8="}', '--proto', PROTO]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { payload: 'aGVsbG8=' });
});

test('call Work returns the expected digest', async () => {
  const r = await cli(['call', target, 'bench.v1.Bench/Work', '{"payload":"YWJj","rounds":3}', '--proto', PROTO]);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).digest, Buffer.from(work(Buffer.from('abc'), 3)).toString('base64'));
});

test('a status error prints its name and message and exits non-zero', async () => {
  const r = await cli(['call', target, 'bench.v1.Bench/Sleep', '{"ms":2000}', '--proto', PROTO, '--timeout', '100']);
  assert.is(r.code, 1);
  // The client's timer usually fires first; the server's own deadline may answer first.
  assert.match(
    r.stderr,
    /^DEADLINE_EXCEEDED: \[DEADLINE_EXCEEDED\] bench.v1.Bench\/Sleep @ 127.0.0.1:\d+: deadline (of 100 ms exceeded|of bench.v1.Bench\/Sleep passed while its handler ran)\n$/,
  );
  assert.is(r.stdout, '');
});

for (const [name, args, pattern] of [
  [
    'unknown method',
    ['bench.v1.Bench/Nope', '{}'],
    /^ringrpc call: UNIMPLEMENTED: unknown method Nope of bench.v1.Bench \(methods: Echo, Work, Sleep, Tally, Stream, Sum, Chat\)\n$/,
  ],
  ['unknown service', ['bench.v1.Other/Echo', '{}'], /^ringrpc call: UNIMPLEMENTED: unknown service bench.v1.Other/],
  ['invalid JSON', ['bench.v1.Bench/Echo', '{nope'], /^ringrpc call: INVALID_ARGUMENT: request is not valid JSON/],
  ['JSON that does not fit the type', ['bench.v1.Bench/Echo', '{"pay":"x"}'], /^ringrpc call: INVALID_ARGUMENT: JSON does not fit bench.v1.EchoRequest/],
] as const) {
  test(`bad input (${name}) is one line and a non-zero exit`, async () => {
    const r = await cli(['call', target, ...args, '--proto', PROTO]);
    assert.is(r.code, 1);
    assert.match(r.stderr, pattern);
    assert.is(r.stderr.trim().split('\n').length, 1);
  });
}

test('an unreachable address is UNAVAILABLE naming it', async () => {
  const r = await cli(['call', '127.0.0.1:1', 'bench.v1.Bench/Echo', '{}', '--proto', PROTO]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^UNAVAILABLE: .*@ 127.0.0.1:1: cannot connect: ECONNREFUSED/);
});

// Tests that run the CLI several times run the runs that do not depend on each other at once.
test('usage errors exit 2 with the usage text', async () => {
  const [r, unknown] = await Promise.all([cli(['call', target]), cli(['frobnicate'])]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /call takes an address/);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('serve --help and bench -h print their options and exit 0; an unknown option exits 2 naming it', async () => {
  const [serveHelp, benchHelp, unknown] = await Promise.all([
    cli(['serve', '--help']),
    cli(['bench', '-h']),
    cli(['serve', '--proto', PROTO, '--handler', 'x.ts']),
  ]);
  assert.is(serveHelp.code, 0, serveHelp.stderr);
  assert.match(serveHelp.stdout, /^usage: ringrpc serve /);
  assert.match(serveHelp.stdout, /--worker-methods <A,B>/);
  assert.is(benchHelp.code, 0, benchHelp.stderr);
  assert.match(benchHelp.stdout, /-c, --concurrency <n> .*\(default 50\)/);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /^ringrpc serve: unknown option '--handler'\n.*\nrun 'ringrpc serve --help' for its options\n$/);
});

test('serve takes its port from a config file, below the environment and flags', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-cli-'));
  const config = path.join(dir, 'ringrpc.json');
  writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port: 1 }));
  // The file says port 1, the environment says 0 (a free port): the environment wins.
  const child = spawnCli(['serve', '--proto', PROTO, '--handlers', 'dist/examples/bench/handlers.js', '--config', config], { RINGRPC_PORT: '0' });
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  assert.is(host, '127.0.0.1', 'host from the file');
  assert.ok(Number(port) > 1, 'port from the environment');
  const r = await cli(['call', `${host}:${port}`, 'bench.v1.Bench/Echo', '{"payload":"eA=="}', '--proto', PROTO]);
  assert.is(r.code, 0, 'a compiled JS handlers module works too');
  child.process.kill('SIGINT');
  assert.is(await child.exited, 0);
});

test('serve reports a bad config value naming its source', async () => {
  const [r, env] = await Promise.all([
    cli(['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts', '--port', 'eighty']),
    cli(['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts'], { RINGRPC_HEARTBEAT_INTERVAL_MS: '-5' }),
  ]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--port must be an integer \(got "eighty"\)/);
  assert.is(env.code, 1);
  assert.match(env.stderr, /options.heartbeatIntervalMs must be a positive integer/);
});

test('serve with a module that implements none of the services says so', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-cli-'));
  const module = path.join(dir, 'handlers.mjs');
  writeFileSync(module, 'export const Other = {};\n');
  const r = await cli(['serve', '--proto', PROTO, '--handlers', module, '--port', '0']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /implements none of the services of proto\/bench\/v1\/bench.proto \(bench.v1.Bench\)/);
});

test('serve serves the stream methods Stream, Sum and Chat inline', async () => {
  const peer = await RawPeer.connect(Number(target.split(':')[1]));
  open(peer, 1, 'Stream', encode.stream(5, 3));
  open(peer, 2, 'Sum');
  open(peer, 3, 'Chat');
  const [stream, sum, chat] = await Promise.all([
    runStream(peer, 1),
    runStream(peer, 2, { send: [encode.echo(Buffer.from('a'))] }),
    runStream(peer, 3, { send: [encode.echo(Buffer.from('b'))] }),
  ]);
  assert.equal(
    [stream.response, sum.response, chat.response].map((r) => r.decodedMeta.status),
    [0, 0, 0],
  );
  assert.equal([stream.messages.length, chat.messages.length], [5, 1]);
  peer.destroy();
  // Every kind of stream may run on the worker lane too (streams-worker-requests.test.ts).
});

test('serve --workers --worker-methods Work runs Work on the worker lane, same answer', async () => {
  const bad = cli(['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts', '--port', '0', '--worker-methods', 'Wrok']);
  const child = spawnServe(['--workers', '2', '--worker-methods', 'Work']);
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  assert.match(child.stderr, /workerLane=Work/);
  const r = await cli(['call', `${host}:${port}`, 'bench.v1.Bench/Work', '{"payload":"YWJj","rounds":3}', '--proto', PROTO]);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).digest, Buffer.from(work(Buffer.from('abc'), 3)).toString('base64'));
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0);
  const refused = await bad;
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /--worker-methods names Wrok, not a method of the implemented services/);
});

test('serve --actor-methods puts Tally on the actor lane; call --key and bench --keys reach its actors', async () => {
  const child = spawnCli(
    ['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts', '--host', '127.0.0.1', '--port', '0', '--actor-methods', 'Tally'],
    { RINGRPC_ACTOR_WORKERS: '1' },
  );
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  const address = `${host}:${port}`;
  for (const [seq, count] of [
    [7, '1'],
    [8, '2'],
  ] as const) {
    const r = await cli(['call', address, 'bench.v1.Bench/Tally', `{"seq":"${seq}"}`, '--proto', PROTO, '--key', 'cli']);
    assert.is(r.code, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).count, count);
  }
  // Keys of their own: the bench's key-0 … key-19, the Python peer's py-0 … py-7.
  const [noKey, load, python, both] = await Promise.all([
    cli(['call', address, 'bench.v1.Bench/Tally', '{}', '--proto', PROTO]),
    cli(['bench', address, 'bench.v1.Bench/Tally', '--proto', PROTO, '--keys', '20', '--requests', '400', '--json']),
    // A peer in another language, written from the wire protocol alone.
    run('python3', ['tests/fixtures/tally_peer.py', host!, port!]),
    cli(['call', address, 'bench.v1.Bench/Tally', '{}', '--proto', PROTO, '--actor-methods', 'Tally']),
  ]);
  assert.is(noKey.code, 1);
  assert.match(noKey.stderr, /^INVALID_ARGUMENT: .*runs on the actor lane and needs a key/);
  assert.is(load.code, 0, load.stderr);
  const result = JSON.parse(load.stdout) as { ok: number; errors: Record<string, number> };
  assert.is(result.ok, 400);
  assert.is(python.code, 0, python.stdout + python.stderr);
  assert.equal(JSON.parse(python.stdout), {
    keys: 8,
    threads: 1,
    long_key: { status: 3, message: 'key of bench.v1.Bench/Tally is 300 bytes, over the limit of 256' },
    problems: [],
  });
  assert.is(both.code, 2, 'an unknown option of call');
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0);
  const clash = await cli(['serve', '--proto', PROTO, '--handlers', COMPILED_HANDLERS, '--port', '0', '--worker-methods', 'Tally', '--actor-methods', 'Tally']);
  assert.match(clash.stderr, /Tally named by both --worker-methods and --actor-methods/);
});

test('serve --auth-tokens refuses calls without an accepted token; call and bench send --token', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-cli-tokens-'));
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'letmein ci\n');
  const child = spawnServe(['--auth-tokens', tokens], {}, COMPILED_HANDLERS);
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  const address = `${host}:${port}`;
  const [anonymous, wrong, ok, load] = await Promise.all([
    cli(['call', address, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO]),
    cli(['call', address, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO, '--token', 'nope']),
    cli(['call', address, 'bench.v1.Bench/Echo', '{"payload":"b2s="}', '--proto', PROTO, '--token', 'letmein']),
    cli(['bench', address, 'bench.v1.Bench/Echo', '--proto', PROTO, '--token', 'letmein', '--requests', '200', '--json']),
  ]);
  assert.is(anonymous.code, 1);
  assert.match(anonymous.stderr, /^UNAUTHENTICATED: .*needs a bearer token/);
  assert.match(wrong.stderr, /^UNAUTHENTICATED: .*the bearer token was refused/);
  assert.is(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout), { payload: 'b2s=' });
  assert.is(load.code, 0, load.stderr);
  assert.is((JSON.parse(load.stdout) as { ok: number }).ok, 200);
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0);
  assert.not.match(child.stderr, /DEBUG|call method=/, 'no access log below debug level');
  const missing = await cli(['serve', '--proto', PROTO, '--handlers', COMPILED_HANDLERS, '--port', '0', '--auth-tokens', path.join(dir, 'none')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /cannot read the tokens file/);
});

test('RINGRPC_LOG_LEVEL=debug: serve logs one access-log line per call, refused calls included, as JSON', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-cli-access-'));
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'letmein ci-bot\n');
  const child = spawnServe(['--auth-tokens', tokens], { RINGRPC_LOG_FORMAT: 'json', RINGRPC_LOG_LEVEL: 'debug' }, COMPILED_HANDLERS);
  try {
    const listening = await waitForJsonLine(child, 'ringrpc listening');
    const address = String(listening['address']);
    assert.is((await cli(['call', address, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO, '--token', 'letmein', '--key', 'k7'])).code, 0);
    assert.is((await cli(['call', address, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO])).code, 1);
    // The log is on stderr, written when each call has ended.
    for (let i = 0; i < 250 && !child.stderr.includes('"code":"UNAUTHENTICATED"'); i++) await new Promise((r) => setTimeout(r, 20));
    const calls = child.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"call"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.is(calls.length, 2, child.stderr);
    assert.is(calls[0]!['level'], 'debug');
    assert.is(calls[0]!['method'], 'bench.v1.Bench/Echo');
    assert.is(calls[0]!['code'], 'OK');
    assert.is(calls[0]!['subject'], 'ci-bot');
    assert.is(calls[0]!['key'], 'k7');
    assert.is(typeof calls[0]!['durationMs'], 'number');
    assert.is(calls[1]!['code'], 'UNAUTHENTICATED');
    assert.match(String(calls[1]!['message']), /needs a bearer token/);
  } finally {
    child.process.kill('SIGTERM');
  }
  assert.is(await child.exited, 0);
});

test("serve under node's V8 and process flags still starts its worker lane", async () => {
  // Such flags are process-wide; a worker handed them again in its execArgv would refuse to start.
  const child = spawnCli(
    ['serve', '--proto', PROTO, '--handlers', 'examples/bench/handlers.ts', '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--worker-methods', 'Work'],
    {},
    ['--max-old-space-size=1024', '--max-semi-space-size=8', '--expose-gc', '--enable-source-maps'],
  );
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  const r = await cli(['call', `${host}:${port}`, 'bench.v1.Bench/Work', '{"payload":"YWJj","rounds":3}', '--proto', PROTO]);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).digest, Buffer.from(work(Buffer.from('abc'), 3)).toString('base64'));
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0);
});

test('RINGRPC_LOG_FORMAT=json: serve prints its listening and metrics lines as JSON log lines, and no plain line', async () => {
  const child = spawnServe(['--metrics-port', '0'], { RINGRPC_LOG_FORMAT: 'json' }, COMPILED_HANDLERS);
  try {
    const listening = await waitForJsonLine(child, 'ringrpc listening');
    assert.is(listening['level'], 'info');
    assert.is(listening['host'], '127.0.0.1');
    assert.ok(Number(listening['port']) > 0);
    assert.is(listening['address'], `127.0.0.1:${listening['port']}`);
    const metrics = await waitForJsonLine(child, 'ringrpc metrics');
    assert.match(String(metrics['url']), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const r = await cli(['call', String(listening['address']), 'bench.v1.Bench/Echo', '{}', '--proto', PROTO]);
    assert.is(r.code, 0, r.stderr);
    assert.not.match(child.stdout, /ringrpc listening on/);
    for (const line of child.stdout.trim().split('\n')) JSON.parse(line); // every stdout line is JSON
  } finally {
    child.process.kill('SIGTERM');
  }
  assert.is(await child.exited, 0);
});

test('serve and call with mutual TLS; a call without a client certificate is refused in one line', async () => {
  const tls = 'tests/fixtures/tls';
  const child = spawnServe(['--tls-cert', `${tls}/server.pem`, '--tls-key', `${tls}/server-key.pem`, '--tls-ca', `${tls}/ca.pem`], {}, COMPILED_HANDLERS);
  const [, , port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  const [good, refused, missing] = await Promise.all([
    cli([
      'call',
      `localhost:${port}`,
      'bench.v1.Bench/Echo',
      '{"payload":"dGxz"}',
      '--proto',
      PROTO,
      '--tls-ca',
      `${tls}/ca.pem`,
      '--tls-cert',
      `${tls}/client.pem`,
      '--tls-key',
      `${tls}/client-key.pem`,
    ]),
    cli(['call', `localhost:${port}`, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO, '--tls-ca', `${tls}/ca.pem`]),
    cli(['call', `localhost:${port}`, 'bench.v1.Bench/Echo', '{}', '--proto', PROTO, '--tls-ca', 'nope.pem']),
  ]);
  assert.is(good.code, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout), { payload: 'dGxz' });
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /^UNAVAILABLE: .*CERTIFICATE_REQUIRED|client certificate refused/);
  assert.is(refused.stderr.trim().split('\n').length, 1);
  assert.match(missing.stderr, /--tls-ca nope.pem: ENOENT/);
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0);
});

test('gen reproduces the committed examples/bench/generated.ts', async () => {
  const r = await cli(['gen', PROTO, '--import-from', '../../src/index.js']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, readFileSync('examples/bench/generated.ts', 'utf8'));
});

test.run();
