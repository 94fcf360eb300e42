import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accessLog, bearerAuth, bearerToken, createServer, type RpcError, Status, type AccessLogEntry, type Lane } from '../../src/index.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';

const test = suite('access log');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(entries: AccessLogEntry[], lanes: Record<string, Lane>) {
  const server = createServer({
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    interceptors: [
      accessLog((e) => entries.push(e)),
      bearerAuth({ verify: (t) => (t === 'good' ? { subject: 'ci' } : undefined), authorize: (_who, call) => call.method !== 'Work' }),
    ],
  }).addService(Bench, laneHandlers, { lanes, workerModule: 'tests/fixtures/lane-handlers.ts' });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}` };
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

for (const lane of ['inline', 'worker'] as const) {
  test(`${lane} lane: one entry per call, whatever ended it: ok, refused, forbidden, handler error, deadline, cancel`, async () => {
    const entries: AccessLogEntry[] = [];
    const { server, address } = await start(entries, { echo: lane, sleep: lane, work: lane });
    const anonymous = benchClient(address, { retry: false });
    const client = benchClient(address, { retry: false, interceptors: [bearerToken('good')] });
    try {
      await client.echo({ payload: new Uint8Array([1]) }, { key: 'k1' });
      assert.is((await failure(anonymous.echo({}))).code, Status.UNAUTHENTICATED);
      assert.is((await failure(client.work({ rounds: 1 }))).code, Status.PERMISSION_DENIED);
      assert.is((await failure(client.echo({}, { metadata: { 'x-action': 'status' } }))).code, Status.NOT_FOUND);
      assert.is((await failure(client.sleep({ ms: 5000 }, { timeoutMs: 50 }))).code, Status.DEADLINE_EXCEEDED);
      const abort = new AbortController();
      const cancelled = failure(client.sleep({ ms: 5000 }, { signal: abort.signal }));
      await sleep(50);
      abort.abort();
      assert.is((await cancelled).code, Status.CANCELLED);
      // The server ends the cancelled and timed-out calls after the client has given up.
      for (let i = 0; i < 200 && entries.length < 6; i++) await sleep(10);
      await sleep(50); // and nothing is logged twice
      const seen = entries.map((e) => [e.method.split('/')[1], e.code, e.subject ?? '-']);
      assert.equal(seen, [
        ['Echo', 'OK', 'ci'],
        ['Echo', 'UNAUTHENTICATED', '-'],
        ['Work', 'PERMISSION_DENIED', '-'], // refused before bearerAuth set the identity
        ['Echo', 'NOT_FOUND', 'ci'],
        ['Sleep', 'DEADLINE_EXCEEDED', 'ci'],
        ['Sleep', 'CANCELLED', 'ci'],
      ]);
      const [ok, refused] = entries;
      assert.is(ok!.protocol, 'ringrpc');
      assert.is(ok!.key, 'k1');
      assert.is(ok!.status, Status.OK);
      assert.match(ok!.peer, /^127\.0\.0\.1:\d+$/);
      assert.ok(ok!.durationMs >= 0 && ok!.durationMs < 5000);
      assert.match(refused!.message ?? '', /bench\.v1\.Bench\/Echo needs a bearer token/);
      assert.is(refused!.key, undefined);
      assert.ok(entries[4]!.durationMs >= 40, `the deadline's call took ${entries[4]!.durationMs} ms`);
      assert.is(ok!.lane, lane);
      assert.is(entries[3]!.message, 'nothing here', "a handler's error message");
      if (lane === 'worker') {
        assert.ok(ok!.queuedMs! >= 0 && ok!.runMs! >= 0, `queued ${ok!.queuedMs} ms, ran ${ok!.runMs} ms`);
        assert.ok(ok!.queuedMs! + ok!.runMs! <= ok!.durationMs + 1, 'within the call');
      } else {
        assert.is(ok!.queuedMs, undefined);
      }
    } finally {
      await anonymous.$close();
      await client.$close();
      await server.shutdown({ graceMs: 100 });
    }
  });
}

test('a sink that throws does not fail the call; accessLog needs a function', async () => {
  const server = createServer({
    host: '127.0.0.1',
    port: 0,
    interceptors: [
      accessLog(() => {
        throw new Error('disk full');
      }),
    ],
  }).addService(Bench, laneHandlers);
  const { port } = await server.listen();
  const client = benchClient(`127.0.0.1:${port}`);
  try {
    assert.equal([...(await client.echo({ payload: new Uint8Array([9]) })).payload], [9]);
  } finally {
    await client.$close();
    await server.shutdown();
  }
  assert.throws(
    () => accessLog(undefined as never),
    (e: RpcError) => e.code === Status.INVALID_ARGUMENT && /accessLog needs a function/.test(e.message),
  );
});

test.run();
