import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import diagnostics from 'node:diagnostics_channel';
import { createClient, RpcError, Status } from '../../src/index.js';
import { Bench, benchClient, startBenchServer } from '../helpers/bench-server.js';
import { spawnNode, waitForOutput, type Child } from '../helpers/child.js';
import { sleep, until } from '../helpers/tcp.js';

const test = suite('outlier detection');

test('a hung server (SIGSTOP) of three is ejected: throughput recovers, few calls fail, it serves again after SIGCONT', async () => {
  const children: Child[] = [];
  let client: ReturnType<typeof createClient<typeof Bench>> | undefined;
  let running = true;
  let loops: Promise<void>[] = [];
  const ejections: string[] = [];
  const onEjection = (m: unknown) => ejections.push((m as { address: string }).address);
  diagnostics.subscribe('ringrpc:client:ejection', onEjection);
  try {
    for (let i = 0; i < 3; i++) children.push(spawnNode(['tests/fixtures/bench-server-process.ts']));
    const ports = await Promise.all(children.map(async (child) => Number((await waitForOutput(child, /PORT (\d+)/))[1])));
    const c = createClient(Bench, ports.map((p) => `127.0.0.1:${p}`).join(','), { timeoutMs: 500, retry: false });
    client = c;
    const tally = { ok: 0, failed: 0 };
    loops = Array.from({ length: 64 }, async () => {
      while (running) {
        await c.echo({ payload: Buffer.from('x') }).then(
          () => tally.ok++,
          () => tally.failed++,
        );
      }
    });
    await sleep(300);
    children[0]!.process.kill('SIGSTOP');
    // Within the calls' deadline and a few more of them, the hung instance is ejected.
    await until(() => ejections.includes(`127.0.0.1:${ports[0]}`), 5000, 'the hung server to be ejected');
    await sleep(500);
    const before = { ...tally };
    await sleep(1000);
    const okPerSecond = tally.ok - before.ok;
    const failedMeanwhile = tally.failed - before.failed;
    assert.ok(okPerSecond > 100, `${okPerSecond} calls a second succeed on the other two`);
    assert.ok(failedMeanwhile <= 1, `${failedMeanwhile} failed meanwhile: at most the one probe sent when its ejection ends`);
    // About a third of the 64 were on it when it stopped; the default balancer (the less busy
    // of two) sends it little more once calls pile up there, and then it is ejected.
    assert.ok(tally.failed <= 50, `${tally.failed} calls failed in all: those in flight on it, and a few more`);
    children[0]!.process.kill('SIGCONT');
    // Probed back once its ejection ends.
    // Probed back once its ejection ends, and answered: back in rotation, calls sent to it again.
    const stopped = () => c.$stats().find((s) => s.address === `127.0.0.1:${ports[0]}`)!;
    const callsThen = stopped().calls;
    await until(() => stopped().calls > callsThen + 10 && stopped().ejectedMs === 0, 15_000, 'the resumed server to be used again');
  } finally {
    running = false;
    for (const ch of children) ch.process.kill('SIGCONT');
    await Promise.all(loops);
    await client?.$close();
    diagnostics.unsubscribe('ringrpc:client:ejection', onEjection);
    for (const c of children) {
      c.process.kill('SIGCONT');
      c.process.kill('SIGKILL');
    }
  }
});

test('failures in a row eject an instance: it gets no calls while ejected; the options are checked', async () => {
  const good = await startBenchServer();
  const failing = await startBenchServer(
    {},
    {
      echo: () => {
        throw new RpcError(Status.UNAVAILABLE, 'dependency down');
      },
    },
  );
  const client = benchClient(`${failing.address},${good.address}`, {
    retry: false,
    outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
  });
  try {
    for (let i = 0; i < 12; i++) await client.echo({}).catch(() => undefined);
    const before = failing.server.stats().methods['bench.v1.Bench/Echo']!.requests;
    for (let i = 0; i < 20; i++) await client.echo({});
    assert.is(failing.server.stats().methods['bench.v1.Bench/Echo']!.requests, before, 'the failing instance got no call while ejected');
  } finally {
    await client.$close();
    await Promise.all([good.server.close(), failing.server.close()]);
  }
  assert.throws(
    () => benchClient('127.0.0.1:1', { outlierDetection: { consecutiveFailures: 0 } }),
    /options.outlierDetection.consecutiveFailures must be a positive integer/,
  );
  assert.throws(
    () => benchClient('127.0.0.1:1', { outlierDetection: { baseEjectionMs: 10, maxEjectionMs: 5 } }),
    /outlierDetection.maxEjectionMs must be at least baseEjectionMs \(10\)/,
  );
});

test.run();
