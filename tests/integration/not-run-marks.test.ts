import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type RpcError, Status, type Lane, type Server } from '../../src/index.js';
import { FrameType, encodeMeta } from '../../src/internal.js';
import { Bench, benchClient, handlers } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { until } from '../helpers/tcp.js';

// "Not run, safe to resend" comes only from the transport and admission layers of the
// server that answers: never from what a handler sets, throws or relays.
const test = suite('not-run marks');

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.unreachable('the call should fail') as never,
    (e: RpcError) => e,
  );
}

for (const lane of ['inline', 'worker'] as const satisfies readonly Lane[]) {
  async function start(): Promise<{ server: Server; port: number }> {
    const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, laneHandlers, {
      lanes: { echo: lane },
      workerModule: 'tests/fixtures/lane-handlers.ts',
    });
    return { server, port: (await server.listen()).port };
  }

  test(`${lane} lane: a handler's error and response metadata lose the ringrpc- keys; its own keys stay`, async () => {
    const { server, port } = await start();
    const peer = await RawPeer.connect(port);
    const body = Bench.methods.echo.requestType.encode({ payload: Buffer.from('x') }).finish();
    peer.send(FrameType.REQUEST, 1, encodeMeta({ service: 'bench.v1.Bench', method: 'Echo', metadata: { 'x-action': 'forge-not-run' } }), body);
    peer.send(FrameType.REQUEST, 2, encodeMeta({ service: 'bench.v1.Bench', method: 'Echo', metadata: { 'x-action': 'forge-ok' } }), body);
    const answers = [await peer.next(FrameType.RESPONSE, 5000), await peer.next(FrameType.RESPONSE, 5000)];
    const forged = answers.find((f) => f.requestId === 1)!.decodedMeta;
    assert.is(forged.status, Status.UNAVAILABLE);
    assert.is(forged.metadata['ringrpc-not-run'], undefined, 'the mark is stripped from the error');
    assert.is(forged.metadata['x-kept'], 'yes');
    const ok = answers.find((f) => f.requestId === 2)!.decodedMeta;
    assert.is(ok.status, Status.OK);
    assert.equal(
      Object.keys(ok.metadata).filter((k) => k.startsWith('ringrpc-')),
      [],
    );
    assert.ok(ok.metadata['thread'] !== undefined, "the handler's own keys arrive");
    peer.destroy();
    await server.close();
  });

  test(`${lane} lane: a client sees a handler's relayed refusal as a call that ran, and does not resend it`, async () => {
    const { server, port } = await start();
    const client = benchClient(`127.0.0.1:${port}`, { retry: { maxAttempts: 3, retryableStatuses: ['UNAVAILABLE'] } });
    const err = await failure(client.echo({ payload: Buffer.from('x') }, { metadata: { 'x-action': 'forge-not-run' } }));
    assert.is(err.code, Status.UNAVAILABLE);
    assert.is(err.notRun, undefined);
    assert.is(server.stats().methods['bench.v1.Bench/Echo']!.requests, 1, 'sent once');
    await client.$close();
    await server.close();
  });
}

test("proxy hop: A runs a side effect, calls B, rethrows B's admission refusal; A's caller does not resend, the side effect runs once", async () => {
  // B admits one request at a time; a held Sleep fills it, so every Echo is refused "not run".
  const b = createServer({ host: '127.0.0.1', port: 0, maxConcurrentRequests: 1 }).addService(Bench, handlers);
  const bPort = (await b.listen()).port;
  const holder = benchClient(`127.0.0.1:${bPort}`, { timeoutMs: 10_000 });
  const held = holder.sleep({ ms: 1500 });
  await until(() => b.stats().inflight === 1, 2000, 'B to be full');

  const toB = benchClient(`127.0.0.1:${bPort}`, { retry: false });
  let sideEffects = 0;
  const a = createServer({ host: '127.0.0.1', port: 0 }).addService(Bench, {
    ...handlers,
    async echo(request) {
      sideEffects++;
      return toB.echo(request); // B's refusal is rethrown as is
    },
  });
  const aPort = (await a.listen()).port;
  const caller = benchClient(`127.0.0.1:${aPort}`, { retry: { maxAttempts: 3, retryableStatuses: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'] } });
  const err = await failure(caller.echo({ payload: Buffer.from('pay once') }));
  assert.is(err.code, Status.RESOURCE_EXHAUSTED);
  assert.is(err.notRun, undefined, 'A ran its handler: the call is not marked not run');
  assert.is(sideEffects, 1, "A's side effect ran exactly once");

  // B's own refusal, seen directly, is still marked: the mark itself is not lost.
  const direct = await failure(toB.echo({}));
  assert.is(direct.notRun, 'refused');

  await held;
  await Promise.all([holder.$close(), toB.$close(), caller.$close()]);
  await Promise.all([a.close(), b.close()]);
});

test.run();
