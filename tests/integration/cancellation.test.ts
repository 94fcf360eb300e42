import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RpcError, Status, type Server } from '../../src/index.js';
import { startBenchServer, benchClient, handlers, Bench } from '../helpers/bench-server.js';
import { FrameType, encodeMeta } from '../../src/internal.js';
import { RawPeer } from '../helpers/raw-socket.js';

const test = suite('deadlines and cancellation');

let server: Server;
let address: string;
/** What each Sleep handler saw: its deadline and how its signal ended. */
const seen: Array<{ deadline: number; abortedWith?: number; at?: number }> = [];

/** The bench handlers, with a Sleep that records what it saw in `seen`. */
const recording: typeof handlers = {
  ...handlers,
  async sleep(request, ctx) {
    const record: (typeof seen)[number] = { deadline: ctx.deadline };
    seen.push(record);
    ctx.signal.addEventListener('abort', () => {
      record.abortedWith = (ctx.signal.reason as RpcError).code;
      record.at = Date.now();
    });
    return handlers.sleep!(request, ctx);
  },
};

test.before(async () => {
  ({ server, address } = await startBenchServer({}, recording));
});

test.after(async () => {
  await server.close();
});

test.before.each(() => {
  seen.length = 0;
});

async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !predicate(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('the remaining timeout travels in Meta and becomes ctx.deadline', async () => {
  const client = benchClient(address);
  const before = Date.now();
  await client.sleep({ ms: 1 }, { timeoutMs: 2000 });
  assert.ok(seen[0]!.deadline >= before + 1900 && seen[0]!.deadline <= Date.now() + 2000, `deadline ${seen[0]!.deadline - before} ms ahead`);
  await client.sleep({ ms: 1 }, { timeoutMs: 0 });
  assert.is(seen[1]!.deadline, Infinity, 'timeoutMs 0 means no deadline');
  await client.$close();
});

test('timeout: DEADLINE_EXCEEDED at the deadline, and the server handler is signalled', async () => {
  const client = benchClient(address);
  const started = Date.now();
  try {
    await client.sleep({ ms: 5000 }, { timeoutMs: 100 });
    assert.unreachable();
  } catch (err) {
    const took = Date.now() - started;
    assert.is((err as RpcError).code, Status.DEADLINE_EXCEEDED);
    // The client's timer or the server's (which answers DEADLINE_EXCEEDED itself) may come first.
    assert.match((err as RpcError).message, /bench.v1.Bench\/Sleep @ 127.0.0.1:\d+: deadline (of 100 ms exceeded|of bench.v1.Bench\/Sleep passed)/);
    // At the deadline, long before the 5 s sleep; the upper bound leaves room for a loaded machine.
    assert.ok(took >= 95 && took < 2500, `rejected after ${took} ms`);
  }
  await until(() => seen[0]?.abortedWith !== undefined);
  assert.ok([Status.DEADLINE_EXCEEDED, Status.CANCELLED].includes(seen[0]!.abortedWith as 1 | 4));
  await until(() => server.stats().inflight === 0);
  await client.$close();
});

test('abort: CANCELLED at once, a CANCEL frame reaches the server, its signal fires', async () => {
  const client = benchClient(address);
  const controller = new AbortController();
  const call = client.sleep({ ms: 5000 }, { signal: controller.signal, timeoutMs: 10_000 });
  await until(() => seen.length === 1);
  const abortedAt = Date.now();
  controller.abort();
  try {
    await call;
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.CANCELLED);
    assert.match((err as RpcError).message, /cancelled by the caller/);
  }
  await until(() => seen[0]?.abortedWith !== undefined);
  assert.is(seen[0]!.abortedWith, Status.CANCELLED, 'the server saw CANCEL, not its own deadline');
  assert.ok(seen[0]!.at! - abortedAt < 2500, 'signalled on the CANCEL, long before the 5 s sleep or the 10 s deadline');
  await until(() => server.stats().inflight === 0);
  await client.$close();
});

test('an already-aborted signal fails without sending', async () => {
  const client = benchClient(address);
  const before = server.stats().methods['bench.v1.Bench/Sleep']!.requests;
  try {
    await client.sleep({ ms: 1 }, { signal: AbortSignal.abort() });
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.CANCELLED);
  }
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.requests, before);
  await client.$close();
});

test('a late answer to a timed-out call is dropped; the connection keeps working', async () => {
  const client = benchClient(address);
  const results = await Promise.allSettled([client.sleep({ ms: 80 }, { timeoutMs: 30 }), client.sleep({ ms: 10 }, { timeoutMs: 1000 })]);
  assert.is(results[0].status, 'rejected');
  assert.is(results[1].status, 'fulfilled');
  await new Promise((r) => setTimeout(r, 100));
  assert.is(Buffer.from((await client.echo({ payload: Buffer.from('ok') })).payload).toString(), 'ok');
  await client.$close();
});

test('the client default timeout (options.timeoutMs) applies when a call sets none', async () => {
  const client = benchClient(address, { timeoutMs: 50 });
  try {
    await client.sleep({ ms: 1000 });
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.DEADLINE_EXCEEDED);
    // Sent as timeout_ms=50: the client's timer or the server's answer, whichever is first.
    assert.match((err as RpcError).message, /deadline (of 50 ms exceeded|of bench.v1.Bench\/Sleep passed)/);
  }
  await client.$close();
});

test("callTimeoutMs: a call without a deadline, or with a later one, is answered DEADLINE_EXCEEDED at the server's limit", async () => {
  const limited = await startBenchServer({ callTimeoutMs: 150 }, recording);
  const client = benchClient(limited.address);
  for (const timeoutMs of [0, 10_000]) {
    seen.length = 0;
    const started = Date.now();
    const err = await client.sleep({ ms: 5000 }, { timeoutMs }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    const took = Date.now() - started;
    assert.is(err?.code, Status.DEADLINE_EXCEEDED, `timeoutMs ${timeoutMs}`);
    assert.match(err!.message, /bench.v1.Bench\/Sleep @ 127.0.0.1:\d+: bench.v1.Bench\/Sleep exceeded the server's callTimeoutMs of 150 ms/);
    // At the server's limit, long before the 5 s sleep; the upper bound leaves room for a loaded machine.
    assert.ok(took >= 140 && took < 2500, `answered after ${took} ms`);
    // The deadline the handler saw had passed by the time the answer came: the server's
    // limit, not the client's 10 s (or none).
    assert.ok(seen[0]!.deadline <= started + took, "ctx.deadline is the server's limit");
    await until(() => seen[0]?.abortedWith !== undefined);
    assert.is(seen[0]!.abortedWith, Status.DEADLINE_EXCEEDED, 'the handler was signalled');
  }
  // An earlier client deadline still decides, and a call within the limit is untouched.
  const early = await client.sleep({ ms: 5000 }, { timeoutMs: 50 }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(early?.code, Status.DEADLINE_EXCEEDED);
  assert.not.match(early!.message, /callTimeoutMs/);
  await client.sleep({ ms: 10 }, { timeoutMs: 0 });
  await until(() => limited.server.stats().inflight === 0);
  await client.$close();
  await limited.server.close();
});

test('a client deadline beyond what a Node timer holds (wire timeout > 2^31-1 ms) does not fire early', async () => {
  const peer = await RawPeer.connect(Number(address.split(':')[1]));
  const body = Bench.methods.sleep.requestType.encode({ ms: 100 }).finish();
  peer.send(FrameType.REQUEST, 1, encodeMeta({ service: 'bench.v1.Bench', method: 'Sleep', timeoutMs: 3_000_000_000 }), body);
  const reply = await peer.next(FrameType.RESPONSE);
  assert.is(reply.decodedMeta.status, Status.OK, reply.decodedMeta.message);
  assert.is(seen[0]!.abortedWith, undefined, 'its signal did not abort');
  assert.ok(seen[0]!.deadline > Date.now() + 2 ** 31, 'the deadline is kept as sent');
  peer.destroy();
});

test.run();
