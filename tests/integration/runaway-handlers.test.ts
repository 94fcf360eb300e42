import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type RpcError, Status, type Server, type ServerOptions } from '../../src/index.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { until } from '../helpers/tcp.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { encodeMeta, FrameType } from '../../src/internal.js';

// Async handlers that ignore ctx.signal and never settle must not exhaust the worker lane.
const test = suite('runaway handlers');

async function start(options: ServerOptions): Promise<{ server: Server; address: string }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...options }).addService(Bench, laneHandlers, {
    lanes: { echo: 'worker', work: 'worker' },
    workerModule: 'tests/fixtures/lane-handlers.ts',
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}` };
}

const hang = { metadata: { 'x-action': 'hang' } };

test('an async handler that never settles: answered at callTimeoutMs, its worker recycled after the grace, the lane recovers', async () => {
  // callTimeoutMs also bounds the call after: time for the replacement worker to start. The
  // worker runs at the main thread's priority: at nice 10 (the default) on a loaded machine
  // it may not begin the call within the limit, and "not started" is not what is tested.
  const { server, address } = await start({ workers: 1, callTimeoutMs: 2000, overrunGraceMs: 300, workerNice: 0 });
  const client = benchClient(address, { retry: false, timeoutMs: 10_000 });
  // The worker is up before the timed call: a slow start (its module loads through tsx) is not what is tested.
  await client.echo({ payload: Buffer.from('warm') });
  const err = await client.echo({ payload: Buffer.from('x') }, hang).then(
    () => assert.unreachable() as never,
    (e: RpcError) => e,
  );
  assert.is(err.code, Status.DEADLINE_EXCEEDED);
  assert.match(err.message, /exceeded the server's callTimeoutMs of 2000 ms/);
  await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 1, 5000, 'the worker to be recycled');
  await until(() => server.stats().workerLane!.inflight === 0, 5000, 'its slot to be freed');
  const reply = await client.echo({ payload: Buffer.from('after') });
  assert.is(Buffer.from(reply.payload).toString(), 'after');
  await client.$close();
  await server.close();
});

test("without callTimeoutMs, the client's deadline plus the grace bounds it too", async () => {
  const { server, address } = await start({ workers: 1, overrunGraceMs: 200 });
  const client = benchClient(address, { retry: false, timeoutMs: 150 });
  const err = await client.echo({}, hang).then(
    () => assert.unreachable() as never,
    (e: RpcError) => e,
  );
  assert.is(err.code, Status.DEADLINE_EXCEEDED);
  await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 1, 5000, 'the worker to be recycled');
  await until(() => server.stats().workerLane!.inflight === 0, 5000, 'its slot to be freed');
  await client.$close();
  await server.close();
});

test('1,100 signal-ignoring calls with callTimeoutMs: the queue is freed at once, Work recovers within the timeout and grace', async () => {
  const { server, address } = await start({ workers: 2, maxQueue: 1024, callTimeoutMs: 300, overrunGraceMs: 300 });
  const client = benchClient(address, { retry: false, timeoutMs: 10_000 });
  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: 1100 }, () =>
      client.echo({}, hang).then(
        () => 'ok',
        (e: RpcError) => e.codeName,
      ),
    ),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  assert.is(counts['RESOURCE_EXHAUSTED'], 76, 'beyond maxQueue: refused at once');
  assert.is(counts['DEADLINE_EXCEEDED'], 1024, 'the rest: answered at the limit');
  // The calls answered while queued freed their slots already; the hung ones go with their workers.
  await until(() => server.stats().workerLane!.inflight === 0, 5000, 'every slot to be freed');
  // Work is served again once the replacement workers are up (they load their module first).
  let recovered = 0;
  while (recovered === 0) {
    const outcome = await client.work({ rounds: 1, payload: Buffer.from('w') }).then(
      () => 'ok',
      (e: RpcError) => e.codeName,
    );
    if (outcome === 'ok') recovered = Date.now() - started;
    else if (Date.now() - started > 10_000) assert.unreachable(`Work still fails ${outcome} 10 s after the flood`);
  }
  assert.ok(recovered < 300 + 300 + 5000, `Work served again ${recovered} ms after the flood began`);
  assert.ok(server.stats().workerLane!.workersTerminatedForOverrun >= 1);
  await client.$close();
  await server.close();
});

test('an overrun worker dies with calls it held: each call is answered exactly once, by its request id', async () => {
  // One worker: a spinning handler and, held behind it, two quick calls; callTimeoutMs
  // answers all three, then the watchdog recycles the worker. None may be answered again.
  const { server, address } = await start({ workers: 1, callTimeoutMs: 500, overrunGraceMs: 200 });
  const port = Number(address.split(':')[1]);
  const peer = await RawPeer.connect(port);
  const meta = (action?: string) => encodeMeta({ service: 'bench.v1.Bench', method: 'Echo', metadata: action ? { 'x-action': action } : undefined });
  const body = Bench.methods.echo.requestType.encode({ payload: Buffer.from('x') }).finish();
  peer.send(FrameType.REQUEST, 1, meta('spin'), body);
  peer.send(FrameType.REQUEST, 2, meta(), body);
  peer.send(FrameType.REQUEST, 3, meta(), body);
  await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 1, 5000, 'the worker to be recycled');
  await until(() => server.stats().workerLane!.inflight === 0, 5000, 'every slot to be freed');
  await new Promise((r) => setTimeout(r, 300)); // a second answer would have arrived by now
  const ids = peer.frames.filter((f) => f.type === FrameType.RESPONSE).map((f) => f.requestId);
  assert.equal(ids.sort(), [1, 2, 3], 'one answer per request');
  const errors = server.stats().methods['bench.v1.Bench/Echo']!.errors;
  assert.is(
    Object.values(errors).reduce((a, b) => a + b, 0),
    3,
    'each counted once',
  );
  peer.destroy();
  await server.close();
});

test.run();
