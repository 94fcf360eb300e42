import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { sleep } from '../helpers/tcp.js';
import { load } from '../helpers/load.js';

const test = suite('graceful shutdown');

test('shutdown under load answers every taken call; the client loses none', async () => {
  const a = await startBenchServer();
  const b = await startBenchServer();
  const client = benchClient(`${a.address},${b.address}`);
  const run = load(() => client.sleep({ ms: 5 }), 32);
  await sleep(150);
  await a.server.shutdown({ graceMs: 5000 });
  const after = a.server.stats().methods['bench.v1.Bench/Sleep']!;
  assert.is(after.inflight, 0);
  assert.is(after.ok, after.requests - Object.values(after.errors).reduce((x, y) => x + y, 0), 'every call it took was answered');
  await sleep(150);
  await run.stop();
  assert.equal(run.tally.failed.map((e) => e.message), []);
  assert.ok(run.tally.ok > 100, `${run.tally.ok} calls succeeded`);
  await client.$close();
  await b.server.close();
});

test('rolling restart of two servers under load: zero failed calls', async () => {
  let a = await startBenchServer();
  let b = await startBenchServer();
  const client = benchClient(`${a.address},${b.address}`);
  const run = load(() => client.echo({ payload: Buffer.from('x') }), 64);
  await sleep(100);
  await a.server.shutdown();
  a = await startBenchServer({ port: a.port });
  await sleep(150);
  await b.server.shutdown();
  b = await startBenchServer({ port: b.port });
  await sleep(150);
  await run.stop();
  assert.equal(run.tally.failed.map((e) => e.message), []);
  assert.ok(a.server.stats().methods['bench.v1.Bench/Echo']!.ok > 0, 'the restarted first server serves again');
  assert.ok(b.server.stats().methods['bench.v1.Bench/Echo']!.ok > 0, 'the restarted second server serves again');
  await client.$close();
  await a.server.close();
  await b.server.close();
});

test('a single server restarting on its port: calls wait through the gap within their deadline', async () => {
  let s = await startBenchServer();
  const client = benchClient(s.address, { reconnect: { initialMs: 10, maxMs: 50 }, retry: { maxAttempts: 20, initialBackoffMs: 10, maxBackoffMs: 50 } });
  const run = load(() => client.echo({}), 16);
  await sleep(100);
  await s.server.shutdown();
  await sleep(100); // nobody listens for a while
  s = await startBenchServer({ port: s.port });
  await sleep(200);
  await run.stop();
  assert.equal(run.tally.failed.map((e) => e.message), []);
  await client.$close();
  await s.server.close();
});

test.run();
