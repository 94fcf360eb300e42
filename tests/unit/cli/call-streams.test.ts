import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main.js';
import { createLogger } from '../../../src/cli/logger.js';
import { Bench } from '../../helpers/bench-server.js';
import { ScriptedPeer } from '../../helpers/stream-peer.js';

/** `ringrpc call` on stream methods, in this process, against a scripted peer. */
const test = suite('cli call streams');
const PROTO = 'proto/bench/v1/bench.proto';
const ReplyType = Bench.methods.stream.responseType;
const RequestType = Bench.methods.sum.requestType;

async function run(argv: string[], stdinText?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (stdinText !== undefined) stdin.end(stdinText);
  const code = await main(argv, { stdin, stdout, stderr, logger: createLogger(stderr, {}), env: {} });
  return { code, stdout: out, stderr: err };
}

/** A peer that streams `count` replies for Stream, echoes Chat, and answers Sum with the count of requests. */
async function peer(): Promise<ScriptedPeer> {
  return ScriptedPeer.start((call) => {
    if (call.meta.method === 'Stream') {
      const { count } = Bench.methods.stream.requestType.decode(call.body) as unknown as { count: number };
      for (let i = 0; i < count; i++) call.message(ReplyType.encode({ payload: Buffer.from(`r${i}`) }).finish());
      call.respond();
    } else if (call.meta.method === 'Chat') {
      call.onMessage = (body) => call.message(ReplyType.encode(RequestType.decode(body)).finish());
      call.onHalfClose = () => call.respond();
    } else if (call.meta.method === 'Sum') {
      call.onHalfClose = () => call.respond({}, Bench.methods.sum.responseType.encode({ messages: call.messages.length }).finish());
    }
  });
}

test('a server stream prints one JSON reply per line', async () => {
  const p = await peer();
  try {
    const r = await run(['call', p.address, 'bench.v1.Bench/Stream', '{"count":3}', '--proto', PROTO]);
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(
      lines.map((l) => JSON.parse(l)),
      ['r0', 'r1', 'r2'].map((s) => ({ payload: Buffer.from(s).toString('base64') })),
    );
  } finally {
    await p.close();
  }
});

test('a client stream reads its requests as JSON lines from stdin with -, and prints its reply', async () => {
  const p = await peer();
  try {
    const r = await run(['call', p.address, 'bench.v1.Bench/Sum', '-', '--proto', PROTO], '{"payload":"YQ=="}\n\n{"payload":"Yg=="}\n{}\n');
    assert.is(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout), { messages: '3' });
    assert.equal(
      p.calls[0]!.messages.map((m) => Buffer.from((RequestType.decode(m) as unknown as { payload: Buffer }).payload).toString()),
      ['a', 'b', ''],
    );
  } finally {
    await p.close();
  }
});

test('a bidirectional stream echoes stdin lines as reply lines; a bad line fails the call naming it', async () => {
  const p = await peer();
  try {
    const r = await run(['call', p.address, 'bench.v1.Bench/Chat', '-', '--proto', PROTO], '{"payload":"eA=="}\n{"payload":"eQ=="}\n');
    assert.is(r.code, 0, r.stderr);
    assert.equal(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [{ payload: 'eA==' }, { payload: 'eQ==' }],
    );
    const bad = await run(['call', p.address, 'bench.v1.Bench/Chat', '-', '--proto', PROTO], '{"payload":"eA=="}\nnot json\n');
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT: .*stdin line 2 is not valid JSON/);
    const array = await run(['call', p.address, 'bench.v1.Bench/Sum', '[{"payload":"YQ=="},{}]', '--proto', PROTO]);
    assert.is(array.code, 0, array.stderr);
    assert.is(JSON.parse(array.stdout).messages, '2');
  } finally {
    await p.close();
  }
});

test('- is refused for a method that takes one request', async () => {
  const r = await run(['call', '127.0.0.1:1', 'bench.v1.Bench/Stream', '-', '--proto', PROTO]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /requests from stdin \(-\) are for client and bidirectional streams/);
});

test.run();
