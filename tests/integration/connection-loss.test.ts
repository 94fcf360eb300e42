import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RpcError, Status } from '../../src/index.js';
import { until } from '../helpers/tcp.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { spawnNode, waitForOutput } from '../helpers/child.js';

const test = suite('connection loss');

test('server process killed mid-call: every pending call rejects UNAVAILABLE within 1 s', async () => {
  const child = spawnNode(['tests/fixtures/bench-server-process.ts']);
  const [, port] = await waitForOutput(child, /PORT (\d+)/);
  const client = benchClient(`127.0.0.1:${port}`, { timeoutMs: 30_000 });
  await client.echo({}); // connected
  const calls = Array.from({ length: 200 }, () =>
    client.sleep({ ms: 20_000 }).then(
      () => ({ ok: true as const, at: Date.now() }),
      (err: RpcError) => ({ ok: false as const, err, at: Date.now() }),
    ),
  );
  await new Promise((r) => setTimeout(r, 100));
  const killedAt = Date.now();
  child.process.kill('SIGKILL');
  const results = await Promise.all(calls);
  for (const r of results) {
    assert.not.ok(r.ok);
    if (!r.ok) {
      assert.is(r.err.code, Status.UNAVAILABLE);
      assert.match(r.err.message, new RegExp(`bench.v1.Bench/Sleep @ 127.0.0.1:${port}: connection lost`));
      assert.ok(r.at - killedAt < 1000, `rejected ${r.at - killedAt} ms after the kill`);
    }
  }
  await client.$close();
  await child.exited;
});

test('after a lost connection the next call reconnects', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address);
  await client.echo({});
  await server.close();
  const { server: again } = await startBenchServer({ port: Number(address.split(':')[1]) });
  const reply = await client.echo({ payload: Buffer.from('back') });
  assert.is(Buffer.from(reply.payload).toString(), 'back');
  await client.$close();
  await again.close();
});

test('graceful close: calls taken before it are answered, new calls are refused', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address);
  const inflight = Array.from({ length: 20 }, () => client.sleep({ ms: 1000 }));
  await until(() => server.stats().inflight === 20, 10_000, 'the server to take all 20');
  const closing = server.shutdown({ graceMs: 10_000 });
  const results = await Promise.allSettled(inflight);
  assert.ok(
    results.every((r) => r.status === 'fulfilled'),
    'every taken call was answered',
  );
  await closing;
  assert.is(server.state, 'closed');
  try {
    await client.echo({});
    assert.unreachable();
  } catch (err) {
    assert.is((err as RpcError).code, Status.UNAVAILABLE);
  }
  await client.$close();
});

test('shutdown grace elapses: remaining calls are force-closed and handlers signalled', async () => {
  let aborted = 0;
  const { server, address } = await startBenchServer(
    {},
    {
      sleep: async (_req, ctx) => {
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted++;
            resolve();
          }),
        );
        return {};
      },
    },
  );
  const client = benchClient(address, { timeoutMs: 5000 });
  const call = client.sleep({ ms: 1 });
  await new Promise((r) => setTimeout(r, 30));
  const started = Date.now();
  await server.shutdown({ graceMs: 100 });
  assert.ok(Date.now() - started < 1000);
  const result = await call.then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(result?.code, Status.UNAVAILABLE);
  assert.is(aborted, 1);
  await client.$close();
});

test.run();
