import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { RpcError, Status, type ClientOptions, type Server } from '../../src/index.js';
import { startBenchServer, benchClient, handlers } from '../helpers/bench-server.js';
import { until } from '../helpers/tcp.js';
import { work } from '../../examples/bench/handlers.js';
import { WorkKernel } from '../../examples/bench/generated.js';

const test = suite('unary calls');

let server: Server;
let address: string;
const oneways: string[] = [];

test.before(async () => {
  ({ server, address } = await startBenchServer(
    { compression: 'gzip', compressionThresholdBytes: 256 },
    {
      ...handlers,
      echo(request, ctx) {
        if (ctx.metadata['x-echo-metadata']) ctx.responseMetadata['x-seen'] = ctx.metadata['x-echo-metadata'];
        if (ctx.metadata['x-oneway']) oneways.push(ctx.metadata['x-oneway']);
        if (ctx.metadata['x-fail']) throw new RpcError(Status.FAILED_PRECONDITION, 'asked to fail', { metadata: { 'x-why': 'because' } });
        if (ctx.metadata['x-bad-reply']) return { payload: 42 as unknown as Uint8Array };
        return { payload: request.payload };
      },
    },
  ));
});

test.after(async () => {
  await server.close();
});

/**
 * Runs `body` with a new client and closes the client even when `body` fails: `$close()`
 * waits for the calls still in flight, so a failed test leaves none of them, or their
 * bytes, to the next one.
 */
async function withClient(body: (client: ReturnType<typeof benchClient>) => Promise<void>, options?: ClientOptions): Promise<void> {
  const client = benchClient(address, options);
  try {
    await body(client);
  } finally {
    await client.$close();
  }
}

test('Echo, Work and Sleep answer correctly (promise mode)', async () => {
  await withClient(async (client) => {
    const echo = await client.echo({ payload: Buffer.from('hi') });
    assert.is(Buffer.from(echo.payload).toString(), 'hi');
    const digest = await client.work({ payload: Buffer.from('abc'), rounds: 5 });
    assert.equal(Buffer.from(digest.digest), Buffer.from(work(Buffer.from('abc'), 5)));
    const integer = await client.work({ payload: Buffer.from('abc'), rounds: 5, kernel: WorkKernel.WORK_KERNEL_INTEGER });
    assert.equal(Buffer.from(integer.digest), Buffer.from(work(Buffer.from('abc'), 5, WorkKernel.WORK_KERNEL_INTEGER)));
    assert.equal({ ...(await client.sleep({ ms: 5 })) }, {});
  });
});

test('Work with a kernel it does not know: INVALID_ARGUMENT naming it', async () => {
  await withClient(async (client) => {
    try {
      await client.work({ payload: Buffer.from('abc'), rounds: 1, kernel: 7 as WorkKernel });
      assert.unreachable();
    } catch (err) {
      assert.instance(err, RpcError);
      assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
      assert.match((err as RpcError).message, /unknown kernel 7 \(known: 0 SHA256, 1 INTEGER\)/);
    }
  });
});

test('callback mode, for success and failure', async () => {
  await withClient(async (client) => {
    const reply = await new Promise<Uint8Array>((resolve, reject) =>
      client.echo({ payload: Buffer.from('cb') }, (err, r) => (err ? reject(err) : resolve(r!.payload))),
    );
    assert.is(Buffer.from(reply).toString(), 'cb');
    const failure = await new Promise<RpcError | null>((resolve) =>
      client.echo({ payload: Buffer.from('x') }, { metadata: { 'x-fail': '1' } }, (err) => resolve(err)),
    );
    assert.is(failure?.code, Status.FAILED_PRECONDITION);
  });
});

test('10,000 concurrent calls with random payloads on one connection, each matched to its caller', async () => {
  const calls = 10_000;
  // Every call starts at once, so the last is answered only once the whole batch has gone
  // through: the deadline is the batch's, 5 ms a call (it takes about 0.1 ms on an idle
  // machine, 0.8 ms with the load average at 12 on 2 cores), not the default 3 s of one call.
  await withClient(
    async (client) => {
      const accepted = server.stats().connections.accepted;
      const payloads = Array.from({ length: calls }, () => randomBytes(Math.floor(Math.random() * 512)));
      const replies = await Promise.all(payloads.map((payload) => client.echo({ payload })));
      for (const [i, r] of replies.entries()) assert.ok(Buffer.from(r.payload).equals(payloads[i]!), `call ${i} got its own payload`);
      assert.is(server.stats().connections.accepted - accepted, 1, 'one TCP connection');
    },
    { timeoutMs: calls * 5 },
  );
});

test('metadata travels both ways; error metadata reaches RpcError', async () => {
  await withClient(async (client) => {
    let seen: Readonly<Record<string, string>> = {};
    await client.echo({ payload: Buffer.from('m') }, { metadata: { 'x-echo-metadata': 'v1' }, onMetadata: (m) => (seen = m) });
    assert.is(seen['x-seen'], 'v1');
    try {
      await client.echo({}, { metadata: { 'x-fail': '1' } });
      assert.unreachable();
    } catch (err) {
      assert.is((err as RpcError).metadata['x-why'], 'because');
      assert.is((err as RpcError).rawMessage, 'asked to fail');
    }
  });
});

test('gzip both ways above the threshold, plain below', async () => {
  await withClient(
    async (client) => {
      const before = server.stats().bytesIn;
      const big = Buffer.alloc(200_000, 'a');
      const reply = await client.echo({ payload: big });
      assert.ok(Buffer.from(reply.payload).equals(big));
      assert.ok(server.stats().bytesIn - before < 10_000, 'the request body travelled compressed');
      const small = await client.echo({ payload: Buffer.from('tiny') });
      assert.is(Buffer.from(small.payload).toString(), 'tiny');
    },
    { compression: 'gzip', compressionThresholdBytes: 256 },
  );
});

test('ONEWAY from the client runs on the server, no answer', async () => {
  await withClient(async (client) => {
    client.echo.oneway({ payload: Buffer.from('x') }, { metadata: { 'x-oneway': 'note-1' } });
    await client.echo({ payload: Buffer.from('after') });
    await until(() => oneways.includes('note-1'), 10_000, 'the ONEWAY call ran');
  });
});

test('ONEWAY calls release their admission slot and are counted, inline as on failure', async () => {
  await withClient(async (client) => {
    const before = server.stats().methods['bench.v1.Bench/Echo']!;
    for (let i = 0; i < 20; i++) client.echo.oneway({ payload: Buffer.from('x') }, { metadata: i % 2 ? { 'x-fail': '1' } : {} });
    await client.echo({});
    await until(() => server.stats().inflight === 0, 10_000, 'no call is in flight');
    const after = server.stats().methods['bench.v1.Bench/Echo']!;
    assert.is(server.stats().inflight, 0, 'no slot is held by a finished ONEWAY');
    assert.is(after.inflight, 0);
    assert.is(after.ok - before.ok, 11, '10 ONEWAY + 1 call');
    assert.is((after.errors['FAILED_PRECONDITION'] ?? 0) - (before.errors['FAILED_PRECONDITION'] ?? 0), 10);
  });
});

test('a request that does not fit its type fails INVALID_ARGUMENT before any I/O', async () => {
  await withClient(async (client) => {
    const accepted = server.stats().connections.accepted;
    try {
      await client.echo({ payload: 123 as unknown as Uint8Array });
      assert.unreachable();
    } catch (err) {
      assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
      assert.match((err as RpcError).message, /request is not a bench.v1.EchoRequest: payload/);
    }
    assert.is(server.stats().connections.accepted, accepted);
  });
});

test('a reply that does not fit its type is INTERNAL naming the handler', async () => {
  await withClient(async (client) => {
    try {
      await client.echo({}, { metadata: { 'x-bad-reply': '1' } });
      assert.unreachable();
    } catch (err) {
      assert.is((err as RpcError).code, Status.INTERNAL);
      assert.match((err as RpcError).message, /handler of bench.v1.Bench\/Echo returned a reply that is not a bench.v1.EchoReply/);
    }
  });
});

test('bad per-call options are INVALID_ARGUMENT naming the option', async () => {
  await withClient(async (client) => {
    for (const [options, message] of [
      [{ timeoutMs: -1 }, /options.timeoutMs must be a non-negative integer/],
      [{ timeoutMs: 1.5 }, /options.timeoutMs must be a non-negative integer/],
      // Longer than a Node timer holds: refused rather than timing out after 1 ms.
      [{ timeoutMs: 3_000_000_000 }, /options.timeoutMs must be a non-negative integer of ms, at most 2147483647 \(about 24.8 days\)/],
      [{ metadata: { a: 1 } }, /options.metadata.a must be a string/],
      [{ signal: {} }, /options.signal must be an AbortSignal/],
    ] as const) {
      try {
        await client.echo({}, options as never);
        assert.unreachable();
      } catch (err) {
        assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
        assert.match((err as RpcError).message, message);
      }
    }
  });
});

test('an unreachable address fails UNAVAILABLE naming it', async () => {
  const client = benchClient('127.0.0.1:1');
  try {
    await client.echo({});
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.UNAVAILABLE);
    assert.match((err as RpcError).message, /bench.v1.Bench\/Echo @ 127.0.0.1:1: cannot connect: ECONNREFUSED/);
    assert.match(String(((err as RpcError).cause as Error)?.message ?? ''), /ECONNREFUSED/, 'the socket error is the cause');
  }
  await client.$close();
});

test('$close() lets pending calls settle, then closes the connection', async () => {
  const client = benchClient(address);
  const open = server.stats().connections.open;
  let answered = false;
  const sleeping = client.sleep({ ms: 400 }).then((reply) => {
    answered = true;
    return reply;
  });
  await until(() => server.stats().inflight > 0, 10_000, 'the server has the call');
  const cpu = process.cpuUsage();
  await client.$close();
  const spent = process.cpuUsage(cpu);
  assert.ok(answered, 'close waited for the pending call');
  assert.equal({ ...(await sleeping) }, {}, 'the pending call was answered');
  assert.ok((spent.user + spent.system) / 1000 < 60, 'waiting did not spin the CPU');
  await until(() => server.stats().connections.open === open, 10_000, 'the connection is closed');
});

test('a closed client fails UNAVAILABLE', async () => {
  const client = benchClient(address);
  await client.echo({});
  await client.$close();
  try {
    await client.echo({});
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.UNAVAILABLE);
    assert.match((err as RpcError).message, /client is closed/);
  }
});

test('an invalid target is INVALID_ARGUMENT naming it', () => {
  assert.throws(() => benchClient('localhost'), /invalid address "localhost"/);
  assert.throws(() => benchClient('h:70000'), /port from 1 to 65535/);
});

test.run();
