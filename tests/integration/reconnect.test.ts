import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import diagnostics from 'node:diagnostics_channel';
import { RpcError, Status } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { freePort, sleep, until } from '../helpers/tcp.js';
import { spawnNode, waitForOutput } from '../helpers/child.js';

const test = suite('reconnect');

test('backoff between failed connects grows by the multiplier and stops at the cap', async () => {
  const port = await freePort();
  const delays: number[] = [];
  const onBackoff = (m: unknown) => delays.push((m as { delayMs: number }).delayMs);
  diagnostics.subscribe('ringrpc:client:backoff', onBackoff);
  const client = benchClient(`127.0.0.1:${port}`, { reconnect: { initialMs: 20, maxMs: 80, multiplier: 2, jitter: 0 }, retry: false });
  await client.echo({}).catch(() => {});
  await until(() => delays.length >= 6, 3000, 'six backoff rounds');
  diagnostics.unsubscribe('ringrpc:client:backoff', onBackoff);
  assert.equal(delays.slice(0, 6), [20, 40, 80, 80, 80, 80]);
  await client.$close();
});

test('no reconnect storm: 1,000 calls to a dead endpoint fail fast and cost a handful of connects', async () => {
  const port = await freePort();
  const client = benchClient(`127.0.0.1:${port}`, { reconnect: { initialMs: 50, maxMs: 200, jitter: 0 }, retry: false });
  const started = Date.now();
  const errors: RpcError[] = [];
  for (let round = 0; round < 10; round++) {
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        client.echo({}).then(
          () => undefined,
          (e: RpcError) => e,
        ),
      ),
    );
    errors.push(...results.filter((e): e is RpcError => e !== undefined));
    await sleep(30);
  }
  const elapsed = Date.now() - started;
  assert.is(errors.length, 1000);
  for (const e of errors) assert.is(e.code, Status.UNAVAILABLE);
  assert.ok(
    errors.some((e) => /cannot connect: ECONNREFUSED \(\d+ failed connects?; next attempt in \d+ ms\)/.test(e.message)),
    'fast failures say why and when',
  );
  const { connects } = client.$stats()[0]!;
  // One connect per backoff round: 50, 100, 200, 200 ms… over ~elapsed ms.
  assert.ok(connects <= 2 + elapsed / 50, `${connects} connects in ${elapsed} ms for 1,000 calls`);
  await client.$close();
});

test('once the endpoint comes back the client reconnects on its own and calls succeed', async () => {
  const port = await freePort();
  const client = benchClient(`127.0.0.1:${port}`, { reconnect: { initialMs: 10, maxMs: 40 }, retry: false });
  await client.echo({}).catch(() => {});
  assert.is(client.$stats()[0]!.state, 'backoff');
  const { server } = await startBenchServer({ port });
  await until(() => client.$stats()[0]!.state === 'ready', 2000, 'a background reconnect');
  // The failure count resets once the server has answered on the new connection (its PONG).
  await until(() => client.$stats()[0]!.failures === 0, 2000, 'the server to answer the new connection');
  const reply = await client.echo({ payload: Buffer.from('up') });
  assert.is(Buffer.from(reply.payload).toString(), 'up');
  await client.$close();
  await server.close();
});

test('a lost connection (peer killed) is reopened at once, without waiting for a call', async () => {
  const child = spawnNode(['tests/fixtures/bench-server-process.ts']);
  const [, portText] = await waitForOutput(child, /PORT (\d+)/);
  const port = Number(portText);
  const client = benchClient(`127.0.0.1:${port}`, { timeoutMs: 5000, retry: false, reconnect: { initialMs: 20, maxMs: 50 } });
  await client.echo({});
  const pending = client.sleep({ ms: 2000 }).catch((e: RpcError) => e);
  await sleep(20);
  child.process.kill('SIGKILL');
  const err = await pending;
  assert.instance(err, RpcError);
  assert.is((err as RpcError).code, Status.UNAVAILABLE);
  await child.exited;
  const { server } = await startBenchServer({ port });
  await until(() => server.stats().connections.open === 1, 2000, 'the client to reconnect without a call');
  assert.is(client.$stats()[0]!.state, 'ready');
  await client.$close();
  await server.close();
});

test('a connection the server closed while idle is reopened only when needed', async () => {
  const { server, address } = await startBenchServer({ heartbeatIntervalMs: 10, heartbeatMissLimit: 1 });
  const client = benchClient(address, { keepalive: false });
  await client.echo({});
  await until(() => server.stats().connections.idleClosed === 1, 2000, 'idle eviction');
  await sleep(100);
  assert.is(server.stats().connections.accepted, 1, 'no reconnect without a call');
  await client.echo({});
  assert.is(server.stats().connections.accepted, 2);
  await client.$close();
  await server.close();
});

test.run();
