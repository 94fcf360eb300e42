import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status } from '../../src/index.js';
import { encodeMeta, FrameType } from '../../src/internal.js';
import { Bench, benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { sleep, until } from '../helpers/tcp.js';
import { load } from '../helpers/load.js';
import { spawnCli } from '../helpers/child.js';

const sleepMeta = encodeMeta({ service: 'bench.v1.Bench', method: 'Sleep' });
const sleepBody = (ms: number) => Bench.methods.sleep.requestType.encode({ ms }).finish();

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
  assert.equal(
    run.tally.failed.map((e) => e.message),
    [],
  );
  assert.ok(run.tally.ok > 100, `${run.tally.ok} calls succeeded`);
  await client.$close();
  await b.server.close();
});

test('rolling restart of two servers under load: zero failed calls', async () => {
  let a = await startBenchServer();
  let b = await startBenchServer();
  const client = benchClient(`${a.address},${b.address}`);
  const run = load(() => client.echo({ payload: Buffer.from('x') }), 64);
  const serving = (s: typeof a) => until(() => (s.server.stats().methods['bench.v1.Bench/Echo']?.ok ?? 0) > 0, 10_000, `${s.address} to serve again`);
  try {
    await sleep(100);
    await a.server.shutdown();
    a = await startBenchServer({ port: a.port });
    await serving(a); // the client is back on the restarted first server before the second goes
    await b.server.shutdown();
    b = await startBenchServer({ port: b.port });
    await serving(b);
    await run.stop();
    assert.equal(
      run.tally.failed.map((e) => e.message),
      [],
    );
  } finally {
    await run.stop();
    await client.$close();
    await Promise.all([a.server.close(), b.server.close()]);
  }
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
  assert.equal(
    run.tally.failed.map((e) => e.message),
    [],
  );
  await client.$close();
  await s.server.close();
});

test('two-step GOAWAY: a request written before the client read the first GOAWAY is taken and answered, never refused', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, sleepMeta, sleepBody(50));
  await sleep(10);
  const closing = server.shutdown({ graceMs: 5000 });
  const first = await peer.next(FrameType.GOAWAY);
  assert.is(first.decodedMeta.status, Status.UNAVAILABLE);
  assert.is(first.decodedMeta.lastRequestId, 0xffff_ffff, 'the first GOAWAY takes everything already sent');
  const ping = await peer.next(FrameType.PING);
  // This client wrote request 2 before it read the GOAWAY: it arrives before the PONG.
  // Request 2 is long, so the connection is still draining (not yet closing) below.
  peer.send(FrameType.REQUEST, 2, sleepMeta, sleepBody(500));
  peer.send(FrameType.PONG, ping.requestId);
  const second = await peer.next(FrameType.GOAWAY);
  assert.is(second.decodedMeta.lastRequestId, 2, 'the final GOAWAY names the last request taken');
  // After the final GOAWAY, a request is neither run nor answered, though the connection is
  // still open and answering request 2.
  peer.send(FrameType.REQUEST, 3, sleepMeta, sleepBody(1));
  const answers = [await peer.next(FrameType.RESPONSE), await peer.next(FrameType.RESPONSE, 3000)];
  assert.equal(answers.map((f) => [f.requestId, f.decodedMeta.status]).sort(), [
    [1, Status.OK],
    [2, Status.OK],
  ]);
  await peer.waitClosed(3000);
  assert.not.ok(peer.frames.some((f) => f.requestId === 3));
  await closing;
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.requests, 2);
});

for (const last of ['a ONEWAY', 'a cancelled call'] as const) {
  test(`shutdown ends a connection once ${last}, its last call, is done; it does not wait out the grace`, async () => {
    const { server, port } = await startBenchServer();
    const peer = await RawPeer.connect(port);
    if (last === 'a ONEWAY') {
      peer.send(FrameType.ONEWAY, 0, sleepMeta, sleepBody(100));
    } else {
      peer.send(FrameType.REQUEST, 1, sleepMeta, sleepBody(3000));
      await until(() => server.stats().inflight === 1, 2000, 'the call to be taken');
    }
    const started = Date.now();
    const closing = server.shutdown({ graceMs: 10_000 });
    const ping = await peer.next(FrameType.PING);
    peer.send(FrameType.PONG, ping.requestId);
    if (last === 'a cancelled call') peer.send(FrameType.CANCEL, 1);
    await closing;
    const took = Date.now() - started;
    assert.ok(took < 5000, `shutdown took ${took} ms of its 10 s grace`);
    peer.destroy();
  });
}

test('two-step GOAWAY: a peer that never answers the PING gets the final GOAWAY after a bounded wait', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.PING, 1);
  await peer.next(FrameType.PONG);
  const started = Date.now();
  const closing = server.shutdown({ graceMs: 10_000 });
  assert.is((await peer.next(FrameType.GOAWAY)).decodedMeta.lastRequestId, 0xffff_ffff);
  const second = await peer.next(FrameType.GOAWAY, 5000);
  assert.is(second.decodedMeta.lastRequestId, 0);
  const waited = Date.now() - started;
  assert.ok(waited >= 900 && waited < 4000, `the final GOAWAY came after ${waited} ms`);
  await peer.waitClosed(3000);
  await closing;
});

test('rolling restart with retries off: no call fails, and none runs twice', async () => {
  // Every call carries a unique id; each server logs the ids it ran.
  const ran: string[] = [];
  const logging = {
    ...handlers,
    echo: (request: { payload: Uint8Array }) => {
      ran.push(Buffer.from(request.payload).toString());
      return { payload: request.payload };
    },
  };
  let a = await startBenchServer({}, logging);
  let b = await startBenchServer({}, logging);
  const client = benchClient(`${a.address},${b.address}`, { retry: false, timeoutMs: 5000 });
  let n = 0;
  const run = load(() => client.echo({ payload: Buffer.from(String(++n)) }), 32);
  await sleep(150);
  await a.server.shutdown({ graceMs: 5000 });
  a = await startBenchServer({ port: a.port }, logging);
  await sleep(200);
  await b.server.shutdown({ graceMs: 5000 });
  b = await startBenchServer({ port: b.port }, logging);
  await sleep(200);
  await run.stop();
  assert.equal(
    run.tally.failed.map((e) => e.message),
    [],
  );
  assert.ok(run.tally.ok > 100, `${run.tally.ok} calls succeeded`);
  assert.is(new Set(ran).size, ran.length, 'no call ran twice');
  await client.$close();
  await Promise.all([a.server.close(), b.server.close()]);
});

test('rolling restart of three servers under `ringrpc bench` (which never retries): every call answered, each run once', async () => {
  // Echo counts what it runs on every server; with a fixed number of calls, the runs add up
  // to exactly that number only if no call was lost (bench would count it) or run twice.
  let runs = 0;
  const counting = {
    ...handlers,
    echo: (request: { payload: Uint8Array }) => {
      runs++;
      return { payload: request.payload };
    },
  };
  const servers = [await startBenchServer({}, counting), await startBenchServer({}, counting), await startBenchServer({}, counting)];
  const targets = servers.map((s) => s.address).join(',');
  const calls = 150_000;
  let restartedUnderLoad = 0;
  const child = spawnCli([
    'bench',
    targets,
    'bench.v1.Bench/Echo',
    '--proto',
    'proto/bench/v1/bench.proto',
    '-n',
    String(calls),
    '-c',
    '32',
    '--warmup',
    '0',
    '--json',
  ]);
  try {
    await until(() => runs > 2000, 20_000, 'the load to start');
    for (let i = 0; i < servers.length; i++) {
      const before = runs;
      await servers[i]!.server.shutdown({ graceMs: 5000 });
      servers[i] = await startBenchServer({ port: servers[i]!.port }, counting);
      if (child.process.exitCode === null) restartedUnderLoad++;
      await until(() => runs > before + 2000 || child.process.exitCode !== null, 20_000, 'the load to go on');
    }
    const code = await child.exited;
    assert.is(code, 0, child.stderr);
    const result = JSON.parse(child.stdout) as { requests: number; ok: number; errors: Record<string, number> };
    assert.is(restartedUnderLoad, 3, 'each server restarted while the load ran');
    assert.equal(result.errors, {}, 'no call failed');
    assert.is(result.ok, calls);
    assert.is(runs, calls + 1, 'each call ran exactly once (bench makes one call first, to check the target)');
  } finally {
    child.process.kill();
    await Promise.all(servers.map((s) => s.server.close()));
  }
});

test.run();
