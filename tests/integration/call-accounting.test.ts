import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createServer, serveMetrics, type RpcError, Status, type Server, type ServerOptions, type Lane } from '../../src/index.js';
import { FrameType, encodeMeta } from '../../src/internal.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { until } from '../helpers/tcp.js';

// Every call the server takes ends in exactly one status that stats() and /metrics count:
// answered, cancelled by the client, past its deadline, or abandoned with its connection.
const test = suite('call accounting');
const MODULE = 'tests/fixtures/lane-handlers.ts';
const ECHO = 'bench.v1.Bench/Echo';
const SLEEP = 'bench.v1.Bench/Sleep';

async function start(options: ServerOptions = {}, lanes: Record<string, Lane> = {}): Promise<{ server: Server; address: string; port: number }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...options }).addService(Bench, laneHandlers, { lanes, workerModule: MODULE });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, port };
}

/** requests === ok + errors + inflight for every method, and the latency histogram holds every ended call. */
function assertEveryCallCounted(server: Server): void {
  for (const [name, m] of Object.entries(server.stats().methods)) {
    const errors = Object.values(m.errors).reduce((a, b) => a + b, 0);
    assert.is(m.requests, m.ok + errors + m.inflight, `${name}: ${JSON.stringify({ ...m, latency: undefined })}`);
    assert.is(m.latency.count, m.ok + errors, `${name}: the latency histogram counts every ended call`);
  }
}

const settled = (server: Server) => until(() => server.stats().inflight === 0, 10_000, 'every call to end');
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => Status.OK,
    (e: RpcError) => e.code,
  );

async function scrape(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const families = parsePrometheusTextFormat(text);
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const sample = families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return Number(sample?.value ?? NaN);
  };
  return { text, value };
}

test('inline lane: a deadline, an abort, AbortSignal.timeout, an error and OK calls each end in one counted status; /metrics has their labels', async () => {
  const { server, address } = await start();
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const client = benchClient(address);
  try {
    await client.echo({});
    await client.echo({});
    assert.is(await codeOf(client.echo({}, { metadata: { 'x-action': 'status' } })), Status.NOT_FOUND);
    // A handler that watches its signal (Sleep) and one that never does (hang): either way the deadline is counted.
    assert.is(await codeOf(client.sleep({ ms: 60_000 }, { timeoutMs: 50 })), Status.DEADLINE_EXCEEDED);
    assert.is(await codeOf(client.echo({}, { timeoutMs: 50, metadata: { 'x-action': 'hang' } })), Status.DEADLINE_EXCEEDED);
    const controller = new AbortController();
    const aborted = codeOf(client.sleep({ ms: 60_000 }, { signal: controller.signal }));
    await until(() => server.stats().methods[SLEEP]!.inflight === 1, 10_000, 'the call to be taken');
    controller.abort();
    assert.is(await aborted, Status.CANCELLED);
    assert.is(await codeOf(client.sleep({ ms: 60_000 }, { signal: AbortSignal.timeout(50) })), Status.CANCELLED);
    await settled(server);

    const { methods } = server.stats();
    assert.is(methods[ECHO]!.ok, 2);
    assert.equal(methods[ECHO]!.errors, { NOT_FOUND: 1, DEADLINE_EXCEEDED: 1 });
    assert.equal(methods[SLEEP]!.errors, { DEADLINE_EXCEEDED: 1, CANCELLED: 2 });
    assert.is(methods[SLEEP]!.requests, 3);
    assertEveryCallCounted(server);

    const { value } = await scrape(metrics.port);
    assert.is(value('ringrpc_method_responses_total', { method: SLEEP, status: 'CANCELLED' }), 2);
    assert.is(value('ringrpc_method_responses_total', { method: SLEEP, status: 'DEADLINE_EXCEEDED' }), 1);
    assert.is(value('ringrpc_method_responses_total', { method: ECHO, status: 'DEADLINE_EXCEEDED' }), 1);
    assert.is(value('ringrpc_method_requests_total', { method: SLEEP }), 3);
  } finally {
    await client.$close();
    await metrics.close();
    await server.close();
  }
});

test('worker lane: calls cancelled or past their deadline, queued behind a blocked thread or running, are counted', async () => {
  const { server, address } = await start({ workers: 1 }, { echo: 'worker', sleep: 'worker' });
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const client = benchClient(address);
  try {
    // The one thread is held 300 ms by a synchronous handler; the calls behind it wait.
    const blocked = codeOf(client.echo({}, { metadata: { 'x-action': 'block', 'x-ms': '300' } }));
    const late = codeOf(client.sleep({ ms: 60_000 }, { timeoutMs: 50 }));
    const controller = new AbortController();
    const aborted = codeOf(client.sleep({ ms: 60_000 }, { signal: controller.signal }));
    const timedOut = codeOf(client.sleep({ ms: 60_000 }, { signal: AbortSignal.timeout(100) }));
    await until(() => server.stats().methods[SLEEP]?.requests === 3, 10_000, 'the calls to be taken');
    controller.abort();
    assert.equal(await Promise.all([blocked, late, aborted, timedOut]), [Status.OK, Status.DEADLINE_EXCEEDED, Status.CANCELLED, Status.CANCELLED]);
    // And one that is running on the thread when the CANCEL comes.
    const running = new AbortController();
    const cancelledRunning = codeOf(client.sleep({ ms: 60_000 }, { signal: running.signal }));
    await until(() => server.stats().workerLane!.inflight === 1 && server.stats().workerLane!.queueDepth === 0, 10_000, 'the call to reach the thread');
    running.abort();
    assert.is(await cancelledRunning, Status.CANCELLED);
    await settled(server);

    const { methods, workerLane } = server.stats();
    assert.is(methods[ECHO]!.ok, 1);
    assert.equal(methods[SLEEP]!.errors, { DEADLINE_EXCEEDED: 1, CANCELLED: 3 });
    assertEveryCallCounted(server);

    // Utilisation over a recent window, beside the average since start.
    assert.ok(workerLane!.recentUtilization >= 0 && workerLane!.recentUtilization <= 1, `recent ${workerLane!.recentUtilization}`);
    const { value } = await scrape(metrics.port);
    assert.is(value('ringrpc_method_responses_total', { method: SLEEP, status: 'CANCELLED' }), 3);
    const recent = value('ringrpc_worker_recent_utilization_ratio');
    assert.ok(recent >= 0 && recent <= 1, `ringrpc_worker_recent_utilization_ratio ${recent}`);
    const page = await (await fetch(`http://127.0.0.1:${metrics.port}/`)).text();
    assert.match(page, /<tr><th>utilisation, last 10 s<\/th><td>[\d.]+ %<\/td><\/tr>/);
    assert.match(page, /<tr><th>utilisation since start<\/th><td>[\d.]+ %<\/td><\/tr>/);
  } finally {
    await client.$close();
    await metrics.close();
    await server.close();
  }
});

test('ONEWAY calls are counted, answered or failed', async () => {
  const { server, address } = await start();
  const client = benchClient(address);
  try {
    client.echo.oneway({});
    client.echo.oneway({}, { metadata: { 'x-action': 'status' } });
    await until(() => server.stats().methods[ECHO]!.requests === 2 && server.stats().inflight === 0, 10_000, 'both ONEWAYs to end');
    assert.is(server.stats().methods[ECHO]!.ok, 1);
    assert.equal(server.stats().methods[ECHO]!.errors, { NOT_FOUND: 1 });
    assertEveryCallCounted(server);
  } finally {
    await client.$close();
    await server.close();
  }
});

for (const lane of ['inline', 'worker'] as const) {
  test(`${lane} lane: a connection dropped mid-call ends its REQUESTs and ONEWAYs CANCELLED`, async () => {
    const { server, port } = await start({ workers: 1 }, lane === 'worker' ? { echo: 'worker', sleep: 'worker' } : {});
    try {
      const peer = await RawPeer.connect(port);
      const sleep = Bench.methods.sleep.requestType.encode({ ms: 60_000 }).finish();
      peer.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
      peer.send(FrameType.ONEWAY, 0, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
      await until(() => server.stats().methods[SLEEP]!.inflight === 2, 10_000, 'both calls to be taken');
      peer.destroy();
      await settled(server);
      assert.equal(server.stats().methods[SLEEP]!.errors, { CANCELLED: 2 });
      assertEveryCallCounted(server);
    } finally {
      await server.close();
    }
  });
}

test('CANCEL frames: plain is CANCELLED; with status DEADLINE_EXCEEDED, or after the deadline passed, DEADLINE_EXCEEDED', async () => {
  const { server, port } = await start();
  const peer = await RawPeer.connect(port);
  try {
    const hang = (id: number, timeoutMs = 0) =>
      peer.send(FrameType.REQUEST, id, { service: 'bench.v1.Bench', method: 'Echo', timeoutMs, metadata: { 'x-action': 'hang' } });
    const inflight = () => server.stats().methods[ECHO]?.inflight;
    hang(1);
    await until(() => inflight() === 1, 10_000, 'call 1 to be taken');
    peer.send(FrameType.CANCEL, 1);
    hang(2);
    await until(() => inflight() === 1 && server.stats().methods[ECHO]!.requests === 2, 10_000, 'call 2 to be taken');
    peer.send(FrameType.CANCEL, 2, encodeMeta({ status: Status.DEADLINE_EXCEEDED }));
    // Taken on the inline lane is running (its handler starts as the frame is read); a
    // handler that never reads ctx.signal arms no timer, so only the CANCEL ends it.
    const sentAt = Date.now();
    hang(3, 200);
    await until(() => server.stats().methods[ECHO]!.requests === 3 && inflight() === 1, 10_000, 'call 3 to be taken');
    await until(() => Date.now() > sentAt + 250, 10_000, "call 3's deadline to pass");
    peer.send(FrameType.CANCEL, 3);
    await settled(server);
    assert.equal(server.stats().methods[ECHO]!.errors, { CANCELLED: 1, DEADLINE_EXCEEDED: 2 });
    assertEveryCallCounted(server);
    assert.is(peer.frames.filter((f) => f.type === FrameType.RESPONSE).length, 0, 'no RESPONSE is owed after a CANCEL');
  } finally {
    peer.destroy();
    await server.close();
  }
});

test("a REQUEST refused for its key is counted as the method's INVALID_ARGUMENT", async () => {
  const { server, port } = await start();
  const peer = await RawPeer.connect(port);
  try {
    peer.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Echo', key: 'k'.repeat(300) });
    const reply = await peer.next(FrameType.RESPONSE, 10_000);
    assert.is(reply.decodedMeta.status, Status.INVALID_ARGUMENT);
    assert.is(server.stats().methods[ECHO]!.requests, 1);
    assert.equal(server.stats().methods[ECHO]!.errors, { INVALID_ARGUMENT: 1 });
    assertEveryCallCounted(server);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test("callTimeoutMs: a call past the server's limit is counted DEADLINE_EXCEEDED", async () => {
  const { server, address } = await start({ callTimeoutMs: 50 });
  const client = benchClient(address);
  try {
    assert.is(await codeOf(client.echo({}, { metadata: { 'x-action': 'hang' } })), Status.DEADLINE_EXCEEDED);
    await settled(server);
    assert.equal(server.stats().methods[ECHO]!.errors, { DEADLINE_EXCEEDED: 1 });
    assertEveryCallCounted(server);
  } finally {
    await client.$close();
    await server.close();
  }
});

test.run();
