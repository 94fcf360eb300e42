import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer, RpcError, Status, type Server } from '../../src/index.js';
import { Bench, benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
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

test("Sum under compression 'gzip', inline and worker lane: requests over the threshold go gzipped, in order, and the digest holds", async () => {
  for (const lane of ['inline', 'worker'] as const) {
    const own = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, {
      lanes: { sum: lane },
      workerModule: 'examples/bench/handlers.ts',
    });
    const { port } = await own.listen();
    const zipping = benchClient(`127.0.0.1:${port}`, { compression: 'gzip', compressionThresholdBytes: 1024 });
    try {
      // Alternating sizes below and above the threshold: gzipping one must not let the next overtake it.
      const payloads = Array.from({ length: 200 }, (_, i) => Buffer.alloc(i % 2 === 0 ? 20_000 : 100, i & 0xff));
      const hash = createHash('sha256');
      for (const p of payloads) hash.update(p);
      const reply = await zipping.sum(payloads.map((payload) => ({ payload })));
      assert.is(reply.messages, 200n, lane);
      assert.equal(Buffer.from(reply.digest), hash.digest(), lane);
      const sent = payloads.reduce((s, p) => s + p.length, 0);
      const read = own.stats().bytesIn;
      // 2 MB of repeated bytes crossed as gzip: the server read a small fraction of it.
      assert.ok(read < sent / 10, `${lane} lane: server read ${read} bytes for ${sent} bytes of payloads`);
    } finally {
      await zipping.$close();
      await own.close();
    }
  }
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
