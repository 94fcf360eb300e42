import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { RpcError, Status } from '../../src/index.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { encodeMeta } from '../../src/protocol/meta.js';
import { FrameType } from '../../src/protocol/constants.js';
import { backoffTimers } from '../../src/util/timer-queue.js';
import { benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { freePort, sleep, until } from '../helpers/tcp.js';

const test = suite('retries');

/** A bench server whose Echo fails UNAVAILABLE from inside the handler, counting runs. */
async function failingServer() {
  const runs = { echo: 0 };
  const started = await startBenchServer(
    {},
    {
      ...handlers,
      echo: () => {
        runs.echo++;
        throw new RpcError(Status.UNAVAILABLE, 'backend down');
      },
    },
  );
  return { ...started, runs };
}

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.unreachable('the call should fail') as never,
    (e: RpcError) => e,
  );
}

test('a non-idempotent call that reached its handler is not retried, whatever its status', async () => {
  const { server, address, runs } = await failingServer();
  const client = benchClient(address, { retry: { maxAttempts: 5, initialBackoffMs: 1 } });
  const err = await failure(client.echo({}));
  assert.is(err.code, Status.UNAVAILABLE);
  assert.is(runs.echo, 1, 'run once');
  assert.match(err.message, /backend down$/, 'no "(after n attempts)"');
  await client.$close();
  await server.close();
});

test('an idempotent method is retried up to maxAttempts, with backoff', async () => {
  const { server, address, runs } = await failingServer();
  const client = benchClient(address, { retry: { maxAttempts: 4, initialBackoffMs: 10, jitter: 0 }, methods: { Echo: { idempotent: true } } });
  const started = Date.now();
  const err = await failure(client.echo({}));
  const took = Date.now() - started;
  assert.is(runs.echo, 4);
  assert.match(err.message, /backend down \(after 4 attempts\)$/);
  assert.ok(took >= 10 + 20 + 40 - 5, `backoff 10 + 20 + 40 ms, took ${took} ms`);
  await client.$close();
  await server.close();
});

test('a status outside retryableStatuses is not retried even when idempotent', async () => {
  const runs = { n: 0 };
  const { server, address } = await startBenchServer(
    {},
    {
      ...handlers,
      echo: () => {
        runs.n++;
        throw new RpcError(Status.INTERNAL, 'bug');
      },
    },
  );
  const client = benchClient(address, { methods: { Echo: { idempotent: true } } });
  await failure(client.echo({}));
  assert.is(runs.n, 1);
  await client.$close();
  await server.close();
});

test('RESOURCE_EXHAUSTED from admission never ran a handler: retried when the policy lists it', async () => {
  const { server, address } = await startBenchServer({ maxConcurrentRequests: 1 });
  const strict = benchClient(address, { retry: false });
  const patient = benchClient(address, { retry: { maxAttempts: 10, initialBackoffMs: 20, retryableStatuses: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'] } });
  const busy = strict.sleep({ ms: 100 });
  await sleep(10);
  const refused = await failure(strict.echo({}));
  assert.is(refused.code, Status.RESOURCE_EXHAUSTED);
  assert.is(refused.metadata['ringrpc-not-run'], '1', 'the server says it did not run it');
  await patient.echo({}); // not idempotent, yet safe: it waits its turn through retries
  await busy;
  await strict.$close();
  await patient.$close();
  await server.close();
});

test('a connect failure is retried on another endpoint', async () => {
  const dead = await freePort();
  const { server, port } = await startBenchServer();
  const client = benchClient(`127.0.0.1:${dead},127.0.0.1:${port}`);
  for (let i = 0; i < 20; i++) await client.echo({});
  assert.is(server.stats().methods['bench.v1.Bench/Echo']!.ok, 20);
  const states = Object.fromEntries(client.$stats().map((s) => [s.address, s.state]));
  assert.is(states[`127.0.0.1:${dead}`], 'backoff');
  await client.$close();
  await server.close();
});

test('the retry budget caps retries at a share of calls', async () => {
  const { server, address, runs } = await failingServer();
  const client = benchClient(address, {
    retry: { maxAttempts: 3, initialBackoffMs: 1 },
    retryBudget: { ratio: 0, minPerSecond: 1 }, // 10 retries per 10 s window
    methods: { Echo: { idempotent: true } },
  });
  await Promise.all(Array.from({ length: 20 }, () => client.echo({}).catch(() => {})));
  assert.is(runs.echo, 20 + 10);
  await client.$close();
  await server.close();
});

test('the deadline bounds all attempts together', async () => {
  const { server, address, runs } = await failingServer();
  const client = benchClient(address, {
    retry: { maxAttempts: 1000, initialBackoffMs: 20, backoffMultiplier: 1, jitter: 0 },
    retryBudget: { minPerSecond: 1000 },
    methods: { Echo: { idempotent: true } },
  });
  const started = Date.now();
  const err = await failure(client.echo({}, { timeoutMs: 150 }));
  const took = Date.now() - started;
  // The last attempt's own error, or its deadline when it was sent with little time left.
  assert.ok(err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED, err.message);
  // Without the bound, 1,000 attempts 20 ms apart would take 20 s; a loaded machine may
  // stretch 150 ms, not by that much, and may fit fewer attempts in it.
  assert.ok(took < 2000, `gave up after ${took} ms`);
  assert.ok(runs.echo >= 1 && runs.echo <= 9, `${runs.echo} attempts in 150 ms at 20 ms apart`);
  await client.$close();
  await server.close();
});

test('aborting a call that waits to retry rejects CANCELLED at once', async () => {
  const { server, address } = await failingServer();
  const client = benchClient(address, { retry: { initialBackoffMs: 5000, maxBackoffMs: 5000 }, methods: { Echo: { idempotent: true } } });
  const controller = new AbortController();
  const before = backoffTimers.size;
  const call = failure(client.echo({}, { signal: controller.signal, timeoutMs: 10_000 }));
  await until(() => backoffTimers.size === before + 1, 5000, 'the call to wait for its retry');
  const abortedAt = Date.now();
  controller.abort();
  const err = await call;
  assert.is(err.code, Status.CANCELLED);
  assert.ok(Date.now() - abortedAt < 1000, 'at once, not after the 5 s backoff');
  assert.is(backoffTimers.size, before, 'its backoff timer is gone');
  await client.$close();
  await server.close();
});

test('calls waiting to retry share one timer', async () => {
  const { server, address } = await failingServer();
  // A backoff long against the first round of attempts (a loaded machine may take a while
  // to send 1,000 calls), and two attempts at most: no call leaves the queue early.
  const client = benchClient(address, {
    retry: { maxAttempts: 2, initialBackoffMs: 2000, jitter: 0 },
    retryBudget: { minPerSecond: 1000 },
    methods: { Echo: { idempotent: true } },
  });
  try {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const calls = Array.from({ length: 1000 }, () => client.echo({}, { timeoutMs: 20_000 }).catch(() => {}));
    await until(() => backoffTimers.size === 1000, 10_000, 'every call to wait in the queue');
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length - timersBefore;
    assert.ok(timers <= 3, `${timers} Node timers for 1,000 waiting calls`);
    await Promise.all(calls);
  } finally {
    await client.$close();
    await server.close();
  }
});

test('GOAWAY: requests above last_request_id are sent again elsewhere, transparently, even with retries off', async () => {
  // A peer that takes request 1, then says GOAWAY(last_request_id 1) and never answers 2 or 3.
  let fakeRequests = 0;
  const fake = net.createServer((socket) => {
    const decoder = new FrameDecoder((frame) => {
      if (frame.type !== FrameType.REQUEST) return;
      fakeRequests++;
      if (frame.requestId === 1) {
        socket.write(encodeFrame(FrameType.RESPONSE, 1, new Uint8Array(0), new Uint8Array(0)));
      } else if (frame.requestId === 3) {
        socket.write(encodeFrame(FrameType.GOAWAY, 0, encodeMeta({ status: Status.UNAVAILABLE, message: 'restarting', lastRequestId: 1 }), new Uint8Array(0)));
        socket.end();
      }
    }, 1 << 20);
    socket.on('data', (chunk) => decoder.push(chunk));
    socket.on('error', () => {});
  });
  fake.listen(0, '127.0.0.1');
  await once(fake, 'listening');
  const fakePort = (fake.address() as net.AddressInfo).port;
  const { server, port } = await startBenchServer();
  const client = benchClient(`127.0.0.1:${fakePort},127.0.0.1:${port}`, {
    retry: false,
    retryBudget: { ratio: 0, minPerSecond: 0 },
    loadBalancer: 'round_robin',
  });
  const first = await client.echo({}); // request 1 → the fake answers it
  assert.ok(first);
  // Round robin sends the next calls to the real server and the fake alternately; the
  // fake's get GOAWAY'd above last_request_id and must succeed on the real one.
  const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => client.echo({ payload: Buffer.from(String(i)) })));
  assert.equal(
    replies.map((r) => Buffer.from(r.payload).toString()),
    ['0', '1', '2', '3', '4', '5'],
  );
  assert.ok(fakeRequests >= 3, `the fake got ${fakeRequests} requests, so some were GOAWAY'd`);
  await client.$close();
  await server.close();
  await new Promise<void>((r) => fake.close(() => r()));
});

test.run();
