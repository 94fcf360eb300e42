import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createServer, type RpcError, Status, type Server, type ServerOptions, type Lane } from '../../src/index.js';
import { FrameType, encodeMeta } from '../../src/internal.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { WorkKernel } from '../../examples/bench/generated.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { freePort } from '../helpers/tcp.js';

const test = suite('worker lane');
const MODULE = 'tests/fixtures/lane-handlers.ts';
const ALL_ON_WORKERS: Record<string, Lane> = { echo: 'worker', work: 'worker', sleep: 'worker' };

async function start(options: ServerOptions = {}, lanes: Record<string, Lane> = ALL_ON_WORKERS): Promise<{ server: Server; address: string; port: number }> {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 2, ...options }).addService(Bench, laneHandlers, { lanes, workerModule: MODULE });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, port };
}

const requestsRun = async (server: Server): Promise<number> => (await server.workerStats()).reduce((n, s) => n + s.requests, 0);
const echoBody = (text: string) => Bench.methods.echo.requestType.encode({ payload: Buffer.from(text) }).finish();
const echoMeta = (extra: object = {}, metadata?: Record<string, string>) => encodeMeta({ service: 'bench.v1.Bench', method: 'Echo', metadata, ...extra });

async function until(predicate: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  for (const end = Date.now() + ms; !(await predicate()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('lane selection: worker methods run off the main thread, inline ones on it', async () => {
  // One thread each: which thread ran a call is what is tested, not how many there are.
  const onWorkers = await start({ workers: 1 }, { echo: 'worker' });
  const inline = await start({ workers: 1 }, { work: 'worker' });
  for (const [s, main] of [
    [onWorkers, 'false'],
    [inline, 'true'],
  ] as const) {
    const client = benchClient(s.address);
    let md: Readonly<Record<string, string>> = {};
    await client.echo({ payload: Buffer.from('x') }, { onMetadata: (m) => (md = m) });
    assert.is(md['main'], main);
    await client.$close();
  }
  assert.is(onWorkers.server.stats().workerLane!.completed, 1);
  assert.is(inline.server.stats().workerLane!.completed, 0);
  await onWorkers.server.close();
  await inline.server.close();
});

test('Echo and Work answer identically on both lanes', async () => {
  const worker = await start({ workers: 1 });
  const inline = await start({}, {}); // no worker lane: nothing of this test would run there
  const a = benchClient(worker.address);
  const b = benchClient(inline.address);
  for (let i = 0; i < 50; i++) {
    const payload = randomBytes(i * 40);
    const [ea, eb] = await Promise.all([a.echo({ payload }), b.echo({ payload })]);
    assert.ok(Buffer.from(ea.payload).equals(Buffer.from(eb.payload)));
    const [wa, wb] = await Promise.all([a.work({ payload, rounds: i }), b.work({ payload, rounds: i })]);
    assert.ok(Buffer.from(wa.digest).equals(Buffer.from(wb.digest)), `Work digest ${i}`);
    const kernel = WorkKernel.WORK_KERNEL_INTEGER;
    const [ia, ib] = await Promise.all([a.work({ payload, rounds: i, kernel }), b.work({ payload, rounds: i, kernel })]);
    assert.ok(Buffer.from(ia.digest).equals(Buffer.from(ib.digest)), `Work digest ${i}, integer kernel`);
  }
  await a.$close();
  await b.$close();
  await worker.server.close();
  await inline.server.close();
});

test('10,000 concurrent worker-lane calls over 4 connections, each matched', async () => {
  const { server, address } = await start({ maxQueue: 16_384 });
  const clients = Array.from({ length: 4 }, () => benchClient(address, { timeoutMs: 30_000 }));
  const payloads = Array.from({ length: 10_000 }, (_, i) => randomBytes(1 + (i % 200)));
  const replies = await Promise.all(payloads.map((payload, i) => clients[i % 4]!.echo({ payload })));
  for (const [i, r] of replies.entries()) assert.ok(Buffer.from(r.payload).equals(payloads[i]!), `call ${i}`);
  const stats = server.stats().workerLane!;
  assert.is(stats.completed, 10_000);
  assert.ok(stats.batches < 10_000 / 4, `${stats.batches} batches: requests travel many per task`);
  assert.is(stats.inflight, 0);
  for (const c of clients) await c.$close();
  await server.close();
});

test('a request whose deadline passes in the queue is answered DEADLINE_EXCEEDED and never run', async () => {
  const { server, port } = await start({ workers: 1 });
  const before = await requestsRun(server);
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, echoMeta({}, { 'x-action': 'block', 'x-ms': '300' }), echoBody('blocker'));
  await new Promise((r) => setTimeout(r, 30)); // the blocker is running
  for (let id = 2; id <= 4; id++) peer.send(FrameType.REQUEST, id, echoMeta({ timeoutMs: 100 }), echoBody(`late ${id}`));
  const answers = [
    await peer.next(FrameType.RESPONSE),
    await peer.next(FrameType.RESPONSE),
    await peer.next(FrameType.RESPONSE),
    await peer.next(FrameType.RESPONSE),
  ];
  for (const a of answers.filter((f) => f.requestId !== 1)) {
    assert.is(a.decodedMeta.status, Status.DEADLINE_EXCEEDED);
    assert.match(a.decodedMeta.message, /bench.v1.Bench\/Echo not started: its deadline passed while it waited in the (worker )?queue/);
  }
  assert.is(answers.find((f) => f.requestId === 1)!.decodedMeta.status, Status.OK);
  assert.is((await requestsRun(server)) - before, 1, 'only the blocker ran');
  peer.destroy();
  await server.close();
});

test('cancel of a queued call: CANCELLED, never run; of a running call: its ctx.signal fires, its thread lives', async () => {
  const { server, address } = await start({ workers: 1 });
  const client = benchClient(address, { timeoutMs: 10_000 });
  const before = await requestsRun(server);
  const blocker = client.echo({ payload: Buffer.from('b') }, { metadata: { 'x-action': 'block', 'x-ms': '300' } });
  await new Promise((r) => setTimeout(r, 30));
  const controller = new AbortController();
  const queued = client.echo({ payload: Buffer.from('q') }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  const outcome = await queued.then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(outcome?.code, Status.CANCELLED);
  await blocker;
  await new Promise((r) => setTimeout(r, 50));
  assert.is((await requestsRun(server)) - before, 1, 'the cancelled call never ran');

  const threads = (await server.workerStats()).map((s) => s.threadId);
  const marker = path.join(mkdtempSync(path.join(tmpdir(), 'ringrpc-lane-')), 'aborted');
  const running = new AbortController();
  const sleeping = client.sleep({ ms: 5000 }, { signal: running.signal, metadata: { 'x-marker': marker } });
  await new Promise((r) => setTimeout(r, 100));
  running.abort();
  assert.is(
    (
      await sleeping.then(
        () => undefined,
        (e: RpcError) => e,
      )
    )?.code,
    Status.CANCELLED,
  );
  await until(() => existsSync(marker), 2000, 'the handler to see its signal');
  assert.match(readFileSync(marker, 'utf8'), /^CANCELLED \d+$/);
  assert.equal(
    (await server.workerStats()).map((s) => s.threadId),
    threads,
    'no thread was killed',
  );
  assert.is(server.stats().workerLane!.workerRestarts, 0);
  await client.$close();
  await server.close();
});

test('a full queue answers RESOURCE_EXHAUSTED at once, and PING still answers promptly', async () => {
  const { server, port } = await start({ workers: 1, maxQueue: 4 });
  const peer = await RawPeer.connect(port);
  for (let id = 1; id <= 4; id++) peer.send(FrameType.REQUEST, id, echoMeta({}, { 'x-action': 'block', 'x-ms': '200' }), echoBody('b'));
  await new Promise((r) => setTimeout(r, 20));
  const sent = Date.now();
  peer.send(FrameType.REQUEST, 5, echoMeta(), echoBody('one too many'));
  const refused = await peer.next(FrameType.RESPONSE);
  assert.is(refused.requestId, 5);
  assert.is(refused.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  assert.match(refused.decodedMeta.message, /worker queue is full \(maxQueue 4\)/);
  assert.ok(Date.now() - sent < 100, 'refused at once');
  const pinged = Date.now();
  peer.send(FrameType.PING, 9, {}, Buffer.from('p'));
  await peer.next(FrameType.PONG);
  assert.ok(Date.now() - pinged < 100, `PONG after ${Date.now() - pinged} ms while the pool is saturated`);
  for (let i = 0; i < 4; i++) assert.is((await peer.next(FrameType.RESPONSE, 3000)).decodedMeta.status, Status.OK);
  peer.destroy();
  await server.close();
});

test('a worker that calls process.exit mid-batch fails only that call, retryable; the pool recovers', async () => {
  const { server, address } = await start({ workers: 2 });
  const client = benchClient(address, { timeoutMs: 10_000 });
  const calls = Array.from({ length: 200 }, (_, i) =>
    client.echo({ payload: Buffer.from(String(i)) }, { metadata: i === 100 ? { 'x-action': 'exit' } : { 'x-action': 'block', 'x-ms': '1' } }).then(
      () => 'ok' as const,
      (e: RpcError) => e,
    ),
  );
  const results = await Promise.all(calls);
  // Handlers here are synchronous, so the exiting call was the only one under way: the
  // rest of its batch, and the batch waiting behind it, ran on the other workers.
  const failed = results.flatMap((r, i) => (r === 'ok' ? [] : [i]));
  assert.equal(failed, [100]);
  const crash = results[100] as RpcError;
  assert.is(crash.code, Status.UNAVAILABLE);
  assert.match(crash.message, /the worker thread running bench.v1.Bench\/Echo died .*; the call may be retried/);
  await until(async () => (await server.workerStats()).length === 2, 5000, 'a replacement worker');
  const after = await Promise.all(Array.from({ length: 100 }, () => client.echo({ payload: Buffer.from('again') })));
  assert.is(after.length, 100);
  assert.ok(server.stats().workerLane!.workerRestarts >= 1);
  await client.$close();
  await server.close();
});

test('requests a dying worker held but never began run on its replacement', async () => {
  const { server, address } = await start({ workers: 1 });
  const client = benchClient(address, { timeoutMs: 10_000 });
  const exiting = client.echo({}, { metadata: { 'x-action': 'exit' } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  const threads: string[] = [];
  const behind = Array.from({ length: 6 }, (_, i) => client.echo({ payload: Buffer.from(String(i)) }, { onMetadata: (m) => threads.push(m['thread']!) }));
  assert.is((await exiting)?.code, Status.UNAVAILABLE);
  const replies = await Promise.all(behind);
  for (const [i, r] of replies.entries()) assert.is(Buffer.from(r.payload).toString(), String(i));
  const lane = server.stats().workerLane!;
  assert.ok(lane.rerun >= 1 && lane.rerun <= 6, `${lane.rerun} re-run`);
  assert.is(lane.failed, 1);
  assert.is(lane.wait.count, 7, "each request's queue wait counted once, re-run or not");
  assert.is(new Set(threads).size, 1, 'all on the replacement');
  await client.$close();
  await server.close();
});

for (const responseRing of [true, false])
  test(`no batch waits behind a slow handler while another worker can run it (responseRing ${responseRing})`, async () => {
    const { server, address } = await start({ workers: 2, responseRing });
    const client = benchClient(address, { timeoutMs: 10_000 });
    let slowThread = '';
    let slowDone = false;
    const slow = client
      .echo({}, { metadata: { 'x-action': 'block', 'x-ms': '1500' }, onMetadata: (m) => (slowThread = m['thread']!) })
      .then(() => (slowDone = true));
    await until(() => server.stats().workerLane!.batches === 1, 3000, 'the slow call to be handed over');
    await new Promise((r) => setTimeout(r, 200)); // its batch is now well past QUEUE_BEHIND_MAX_MS
    const threads = new Set<string>();
    await Promise.all(
      Array.from({ length: 40 }, () => client.echo({}, { metadata: { 'x-action': 'block', 'x-ms': '2' }, onMetadata: (m) => threads.add(m['thread']!) })),
    );
    assert.not.ok(slowDone, 'the quick calls all ended while the slow one ran');
    await slow;
    assert.is(threads.size, 1);
    assert.not.ok(threads.has(slowThread), "none ran on the slow call's worker");
    await client.$close();
    await server.close();
  });

test('handler errors keep their status on the worker lane; a reply naming ctx fields', async () => {
  const { server, address } = await start({ workers: 1 });
  const client = benchClient(address);
  const thrown = await client.echo({}, { metadata: { 'x-action': 'throw' } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(thrown?.code, Status.UNKNOWN);
  assert.match(thrown!.message, /handler failed on purpose/);
  const status = await client.echo({}, { metadata: { 'x-action': 'status' } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(status?.code, Status.NOT_FOUND);
  assert.is(status?.metadata['x-detail'], 'd');
  let md: Readonly<Record<string, string>> = {};
  await client.echo({}, { timeoutMs: 5000, metadata: { 'x-action': 'ctx', 'x-value': 'v' }, onMetadata: (m) => (md = m) });
  assert.match(md['peer']!, /^127.0.0.1:\d+$/);
  assert.ok(Number(md['deadline-in']) > 4000 && Number(md['deadline-in']) <= 5000);
  assert.is(md['echo-meta'], 'v');
  assert.is(md['method'], 'bench.v1.Bench/Echo');
  // Each connection has its own peer, the same on every call over it.
  const other = benchClient(address);
  const peerOf = async (c: typeof client): Promise<string> => {
    let seen = '';
    await c.echo({}, { metadata: { 'x-action': 'ctx' }, onMetadata: (m) => (seen = m['peer']!) });
    return seen;
  };
  assert.is(await peerOf(client), md['peer']);
  assert.is.not(await peerOf(other), md['peer']);
  await other.$close();
  await client.$close();
  await server.close();
});

for (const [name, action, options] of [
  ['an uncaught error in a timer', 'timer-throw', {}],
  ['running out of memory under workerMaxHeapMb', 'oom', { workerMaxHeapMb: 32 }],
] as const) {
  test(`${name} kills only that worker: UNAVAILABLE, and the pool recovers`, async () => {
    const { server, address } = await start({ workers: 1, ...options });
    const client = benchClient(address, { timeoutMs: 20_000 });
    const failed = await client.echo({}, { metadata: { 'x-action': action } }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    assert.is(failed?.code, Status.UNAVAILABLE);
    assert.match(failed!.message, /may be retried/);
    const reply = await client.echo({ payload: Buffer.from('fine') });
    assert.is(Buffer.from(reply.payload).toString(), 'fine');
    await client.$close();
    await server.close();
  });
}

for (const responseRing of [true, false])
  test(`a handler stuck past its deadline + grace has its worker terminated, last resort (responseRing ${responseRing})`, async () => {
    const { server, address } = await start({ workers: 1, overrunGraceMs: 200, responseRing });
    const client = benchClient(address);
    const stuck = await client.echo({}, { timeoutMs: 100, metadata: { 'x-action': 'spin' } }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    assert.is(stuck?.code, Status.DEADLINE_EXCEEDED);
    await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 1, 3000, 'the watchdog');
    const reply = await client.echo({ payload: Buffer.from('alive') }, { timeoutMs: 10_000 });
    assert.is(Buffer.from(reply.payload).toString(), 'alive');
    await client.$close();
    await server.close();
  });

test('callTimeoutMs: a cancelled handler that ignores its signal cannot hold its worker forever', async () => {
  const { server, address } = await start({ workers: 1, callTimeoutMs: 300, overrunGraceMs: 200 });
  const client = benchClient(address);
  // Cancelled with no deadline: only signalled, so it spins on until the server's limit
  // plus the grace period, when the watchdog terminates its worker.
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const cancelled = await client.echo({}, { timeoutMs: 0, signal: controller.signal, metadata: { 'x-action': 'spin' } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(cancelled?.code, Status.CANCELLED);
  await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 1, 5000, 'the watchdog');
  // The replacement serves (once it has started: that alone may take longer than the limit).
  let thread = (await server.workerStats())[0]?.threadId;
  const alive = async () => {
    await until(async () => ((await server.workerStats())[0]?.threadId ?? thread) !== thread, 5000, 'a replacement worker');
    thread = (await server.workerStats())[0]!.threadId;
    assert.is(Buffer.from((await client.echo({ payload: Buffer.from('alive') })).payload).toString(), 'alive');
  };
  await alive();
  // Not cancelled: the client, still waiting, is answered at the limit, before the
  // watchdog (limit + grace) ends the worker.
  const stuck = await client.echo({}, { timeoutMs: 0, metadata: { 'x-action': 'spin' } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(stuck?.code, Status.DEADLINE_EXCEEDED);
  assert.match(stuck!.message, /bench.v1.Bench\/Echo exceeded the server's callTimeoutMs of 300 ms/);
  assert.is(server.stats().workerLane!.workersTerminatedForOverrun, 1, 'answered before the watchdog acted');
  await until(() => server.stats().workerLane!.workersTerminatedForOverrun === 2, 5000, 'the watchdog');
  await alive();
  await client.$close();
  await server.close();
});

test('callTimeoutMs: requests that wait past it, queued or held behind a running one, are answered "not started" (marked not run) and never run', async () => {
  const { server, port } = await start({ workers: 1, callTimeoutMs: 100 });
  const before = await requestsRun(server);
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, echoMeta({}, { 'x-action': 'block', 'x-ms': '300' }), echoBody('blocker'));
  await new Promise((r) => setTimeout(r, 30)); // the blocker is running
  for (let id = 2; id <= 4; id++) peer.send(FrameType.REQUEST, id, echoMeta(), echoBody(`late ${id}`));
  for (let i = 0; i < 4; i++) {
    const a = await peer.next(FrameType.RESPONSE);
    assert.is(a.decodedMeta.status, Status.DEADLINE_EXCEEDED, `request ${a.requestId}`);
    if (a.requestId === 1) {
      assert.match(a.decodedMeta.message, /exceeded the server's callTimeoutMs of 100 ms/);
      assert.is(a.decodedMeta.metadata['ringrpc-not-run'], undefined, 'the blocker began: it may have run');
    } else {
      // Some waited in the reactor's queue, some in the batch the worker held behind the
      // blocker: neither kind began, and the answer says so.
      assert.match(a.decodedMeta.message, /bench.v1.Bench\/Echo not started: it waited past the server's callTimeoutMs of 100 ms/);
      assert.is(a.decodedMeta.metadata['ringrpc-not-run'], '1');
    }
  }
  await until(() => server.stats().workerLane!.inflight === 0, 3000, 'the slots to free');
  assert.is((await requestsRun(server)) - before, 1, 'only the blocker ran');
  peer.destroy();
  await server.close();
});

test("with the ring switched off, responses take Piscina's result path, same answers", async () => {
  const { server, address } = await start({ responseRing: false });
  const client = benchClient(address);
  const payloads = Array.from({ length: 300 }, () => randomBytes(100));
  const replies = await Promise.all(payloads.map((payload) => client.echo({ payload })));
  for (const [i, r] of replies.entries()) assert.ok(Buffer.from(r.payload).equals(payloads[i]!));
  const lane = server.stats().workerLane!;
  assert.is(lane.ringFallbacks, 300);
  assert.ok(lane.utilization > 0, 'busy time is still counted');
  assert.ok((await server.workerStats()).every((t) => !t.hasRing));
  await client.$close();
  await server.close();
});

test('stats: queue depth, utilisation, completed and failed; per-thread details', async () => {
  const { server, address } = await start();
  const client = benchClient(address);
  await Promise.all(Array.from({ length: 50 }, () => client.work({ payload: Buffer.alloc(64), rounds: 200 })));
  await client.echo({}, { metadata: { 'x-action': 'throw' } }).catch(() => undefined);
  const lane = server.stats().workerLane!;
  assert.is(lane.completed, 50);
  assert.is(lane.failed, 1);
  assert.is(lane.queueDepth, 0);
  assert.is(lane.workers, 2);
  assert.ok(lane.utilization > 0 && lane.utilization <= 1);
  const threads = await server.workerStats();
  assert.is(threads.length, 2);
  assert.is(
    threads.reduce((n, t) => n + t.requests, 0),
    51,
  );
  assert.ok(threads.every((t) => t.hasRing && t.heapUsedBytes > 0));
  await client.$close();
  await server.close();
});

/** A server whose Work runs from a worker module of `source`, and what its listen() threw. */
async function listenWithModule(name: string, source: string): Promise<{ server: Server; err: RpcError | undefined }> {
  const module = path.join(mkdtempSync(path.join(tmpdir(), 'ringrpc-lane-')), name);
  writeFileSync(module, source);
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, laneHandlers, { lanes: { work: 'worker' }, workerModule: module });
  const err = await server.listen().then(
    () => undefined,
    (e: RpcError) => e,
  );
  return { server, err };
}

/** The nice value of each thread of this process, from /proc/self/task/<tid>/stat (field 19). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      nices.set(Number(tid), Number(fields[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nices;
}

test('workerNice: the worker and actor threads run below the reactor (Linux); 0 leaves them level', async () => {
  if (process.platform !== 'linux') return;
  const before = new Set(threadNices().keys());
  const niced = () => [...threadNices()].filter(([tid, nice]) => !before.has(tid) && nice > 0).map(([, nice]) => nice);
  const s = await start({ workers: 2, actorWorkers: 1 }, { echo: 'worker', work: 'actor' });
  assert.equal(niced(), [19, 19, 19], 'two worker threads and one actor thread at nice 19');
  assert.is(threadNices().get(process.pid), 0, 'the reactor keeps its priority');
  await s.server.close();
  const level = await start({ workers: 2, workerNice: 0 }, { echo: 'worker' });
  assert.equal(niced(), []);
  await level.server.close();
  assert.throws(
    () => createServer({ workerNice: 20 }),
    (e: RpcError) => e.code === Status.INVALID_ARGUMENT && /options\.workerNice must be an integer from 0 to 19/.test(e.message),
  );
});

/** The most spans that overlap at one moment (by more than a tenth of a millisecond). */
function mostAtOnce(spans: readonly (readonly [number, number])[]): number {
  let most = 0;
  for (const [start] of spans) most = Math.max(most, spans.filter(([s, e]) => s <= start && e > start + 0.1).length);
  return most;
}

/** Spins the calling thread (here: the reactor) for `ms`. */
function spin(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end; );
}

test('reserveReactorCore: while the reactor is busy, batches run on one worker fewer than the cores; on all of them once it is quiet', async () => {
  const cores = availableParallelism();
  const run = async (options: ServerOptions) => {
    // One call a batch, 15 ms each: every batch ends well before it counts as slow (40 ms),
    // so a batch on a reserved worker could only be a bug, not a slow batch's relief.
    const { server, address } = await start({ workers: cores, maxBatch: 1, ...options }, { echo: 'worker' });
    const client = benchClient(address);
    const reserve = () => server.stats().workerLane!.reactorReserve;
    /** Runs 4 calls per core of 15 ms each on the lane; when each ran. */
    const spans = async (): Promise<[number, number][]> => {
      const out: [number, number][] = [];
      const block = {
        metadata: { 'x-action': 'block', 'x-ms': '15' },
        onMetadata: (m: Readonly<Record<string, string>>) => out.push(m['span']!.split(',').map(Number) as [number, number]),
      };
      await Promise.all(Array.from({ length: 4 * cores }, () => client.echo({}, block)));
      return out;
    };
    await spans(); // every thread has run (loaded, compiled)
    // The reactor busy 15 ms of every 20, as under a flood of inline calls.
    const busy = setInterval(() => spin(15), 20);
    let underLoad: [number, number][];
    try {
      if (options.reserveReactorCore !== false) await until(() => reserve().state === 'reserved', 5000, 'the reserve');
      else await new Promise((r) => setTimeout(r, 200));
      underLoad = await spans();
    } finally {
      clearInterval(busy);
    }
    if (options.reserveReactorCore !== false) await until(() => reserve().state === 'shared', 5000, 'the release');
    const quiet = await spans();
    const stats = reserve();
    await client.$close();
    await server.close();
    return { underLoad: mostAtOnce(underLoad), quiet: mostAtOnce(quiet), stats };
  };
  if (cores < 2) {
    const { stats } = await run({});
    assert.is(stats.state, 'off', 'one core: nothing to keep');
    return;
  }
  const reserved = await run({});
  assert.ok(reserved.underLoad <= cores - 1, `at most ${cores - 1} workers ran at once under load (${reserved.underLoad})`);
  assert.is(reserved.quiet, cores, 'every worker runs once the reactor is quiet');
  assert.ok(reserved.stats.reservations >= 1 && reserved.stats.reservedMs > 0, JSON.stringify(reserved.stats));
  const off = await run({ reserveReactorCore: false });
  assert.is(off.underLoad, cores, 'reserveReactorCore false: every worker runs under load too');
  assert.is(off.stats.state, 'off');
  assert.throws(
    () => createServer({ reserveReactorCore: 'yes' as unknown as boolean }),
    (e: RpcError) => e.code === Status.INVALID_ARGUMENT && /options\.reserveReactorCore/.test(e.message),
  );
});

test('a worker module that lacks a worker-lane method fails listen() with a clear error', async () => {
  const { server, err } = await listenWithModule('partial.mjs', 'export const Bench = { echo: (r) => r };\n');
  assert.is(err?.code, Status.FAILED_PRECONDITION);
  assert.match(err!.message, /does not implement bench.v1.Bench\/Work/);
  await server.close();
  assert.throws(() => createServer().addService(Bench, laneHandlers, { lanes: { work: 'worker' } }), /options.workerModule must name the module/);
  assert.throws(() => createServer().addService(Bench, laneHandlers, { lanes: { wrok: 'worker' }, workerModule: MODULE }), /lanes of bench.v1.Bench name wrok/);
});

test('a worker module that throws while loading fails listen() with FAILED_PRECONDITION and its error', async () => {
  const { server, err } = await listenWithModule('throws.mjs', "throw new Error('no licence key');\nexport const Bench = {};\n");
  assert.is(err?.code, Status.FAILED_PRECONDITION);
  assert.match(err!.message, /worker threads failed to start: .*throws\.mjs: no licence key/);
  assert.is(server.state, 'closed');
});

test('shutdown() while the workers start: listen() rejects CANCELLED, nothing is left listening', async () => {
  const port = await freePort();
  const server = createServer({ host: '127.0.0.1', port, workers: 2 }).addService(Bench, laneHandlers, { lanes: ALL_ON_WORKERS, workerModule: MODULE });
  const listening = server.listen().then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(server.state, 'starting');
  await server.shutdown();
  const err = await listening;
  assert.is(err?.code, Status.CANCELLED);
  assert.match(err!.message, new RegExp(`listen on 127.0.0.1:${port} abandoned: the server was shut down while starting`));
  assert.is(server.state, 'closed');
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  assert.ok(refused, 'nothing listens on the port');
});

test.run();
