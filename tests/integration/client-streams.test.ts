import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { RpcError, Status, type Server } from '../../src/index.js';
import { startBenchServer, benchClient } from '../helpers/bench-server.js';
import { streamPayload } from '../../examples/bench/handlers.js';

/** The client's stubs of the three stream kinds against the real server (Bench Stream, Sum, Chat). */
const test = suite('client-streams: end to end');

let server: Server;
let address: string;
let client: ReturnType<typeof benchClient>;

test.before(async () => {
  ({ server, address } = await startBenchServer());
  client = benchClient(address, { timeoutMs: 120_000 });
});

test.after(async () => {
  await client.$close();
  await server.close();
});

test('Stream: every reply in order, with the payload the server computes', async () => {
  let n = 0;
  for await (const reply of client.stream({ count: 2000, payloadBytes: 100 }, { window: 4096 })) {
    assert.equal(Buffer.from(reply.payload), Buffer.from(streamPayload(n & 0xff, 100)), `reply ${n}`);
    n++;
  }
  assert.is(n, 2000);
});

test('Sum: the server counts and hashes what the client sent, held by its credit', async () => {
  const hash = createHash('sha256');
  const payloads = Array.from({ length: 500 }, (_, i) => Buffer.alloc(1000 + i, i & 0xff));
  for (const p of payloads) hash.update(p);
  async function* requests() {
    for (const payload of payloads) yield { payload };
  }
  const reply = await client.sum(requests());
  assert.is(reply.messages, 500n);
  assert.is(reply.bytes, BigInt(payloads.reduce((s, p) => s + p.length, 0)));
  assert.equal(Buffer.from(reply.digest), hash.digest());
});

test('Chat: each request back as a reply, in order; breaking out cancels it', async () => {
  const got: string[] = [];
  for await (const reply of client.chat(['a', 'b', 'c'].map((s) => ({ payload: Buffer.from(s) })))) got.push(Buffer.from(reply.payload).toString());
  assert.equal(got, ['a', 'b', 'c']);
  async function* endless() {
    for (let i = 0; ; i++) yield { payload: Buffer.from(String(i)) };
  }
  let seen = 0;
  for await (const _ of client.chat(endless())) if (++seen === 10) break;
  assert.is(seen, 10);
  // The connection still serves calls.
  assert.is(Buffer.from((await client.echo({ payload: Buffer.from('ok') })).payload).toString(), 'ok');
});

test('a server error ends the stream with its status', async () => {
  try {
    for await (const _ of client.stream({ count: 1, payloadBytes: 5 * 1024 * 1024 })) assert.unreachable('no reply');
    assert.unreachable('the stream should fail');
  } catch (err) {
    assert.instance(err, RpcError);
    assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
    assert.is((err as RpcError).method, 'Stream');
  }
});

test('1,000,000 small replies server → client with the client RSS bounded', async () => {
  const count = 1_000_000;
  const start = process.memoryUsage().rss;
  let peak = start;
  let n = 0;
  for await (const reply of client.stream({ count, payloadBytes: 8 })) {
    if (reply.payload.length !== 8) assert.unreachable(`reply ${n} has ${reply.payload.length} bytes`);
    if (++n % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  assert.is(n, count);
  const growthMb = (peak - start) / (1024 * 1024);
  assert.ok(growthMb < 64, `RSS grew by ${growthMb.toFixed(1)} MB while reading 1,000,000 replies`);
});

test.run();
