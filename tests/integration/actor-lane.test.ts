import { suite } from 'uvu';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { createServer, RpcError, serveMetrics, Status, type Client, type Server, type ServerOptions } from '../../src/index.js';
import { FrameType, decodeMeta } from '../../src/internal.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as actorHandlers, type EchoReport } from '../fixtures/actor-handlers.js';
import { RawPeer } from '../helpers/raw-socket.js';

const test = suite('actor lane');
const MODULE = 'tests/fixtures/actor-handlers.ts';

async function start(options: ServerOptions = {}): Promise<{ server: Server; address: string; port: number }> {
  const server = createServer({ host: '127.0.0.1', port: 0, actorWorkers: 2, workers: 1, ...options }).addService(Bench, actorHandlers, {
    lanes: { echo: 'actor', tally: 'actor' },
    workerModule: MODULE,
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, port };
}

async function probe(client: Client<typeof Bench>, key: string, metadata?: Record<string, string>, extra: object = {}): Promise<EchoReport> {
  const reply = await client.echo({}, { key, metadata, ...extra });
  return JSON.parse(Buffer.from(reply.payload).toString()) as EchoReport;
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

async function until(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  for (const end = Date.now() + ms; !predicate(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('one key reaches one thread, across connections and clients; keys spread evenly over the threads', async () => {
  const s = await start({ actorWorkers: 4, maxQueue: 4096 });
  const clients = Array.from({ length: 3 }, () => benchClient(s.address, { pool: { connectionsPerEndpoint: 2 } }));
  const threadsOf = new Map<string, Set<number>>();
  await Promise.all(
    Array.from({ length: 2000 }, async (_, i) => {
      const key = `user-${i % 1000}`;
      const reply = await clients[i % 3]!.tally({ seq: BigInt(i + 1), delayUs: 0 }, { key });
      (threadsOf.get(key) ?? threadsOf.set(key, new Set()).get(key)!).add(reply.thread);
    }),
  );
  const perThread = new Map<number, number>();
  for (const [key, threads] of threadsOf) {
    assert.is(threads.size, 1, `key ${key} reached threads ${[...threads]}`);
    const thread = [...threads][0]!;
    perThread.set(thread, (perThread.get(thread) ?? 0) + 1);
  }
  assert.is(perThread.size, 4, 'every thread holds keys');
  for (const [thread, keys] of perThread) assert.ok(Math.abs(keys - 250) <= 50, `thread ${thread} holds ${keys} of 1000 keys (even: 250 ± 20%)`);
  assert.equal(
    s.server.stats().actorLane!.activeActors.reduce((a, b) => a + b, 0),
    1000,
  );
  await Promise.all(clients.map((c) => c.$close()));
  await s.server.close();
});

test('the messages of a key run one at a time, in the order they were sent, while handlers await random delays', async () => {
  const s = await start();
  const client = benchClient(s.address, { pool: { connectionsPerEndpoint: 1 } });
  const keys = Array.from({ length: 20 }, (_, i) => `room-${i}`);
  const replies = await Promise.all(
    Array.from({ length: 600 }, (_, i) => {
      const key = keys[i % keys.length]!;
      const seq = BigInt(Math.floor(i / keys.length) + 1); // 1, 2, 3, … per key
      return client.tally({ seq, delayUs: Math.floor(Math.random() * 3000) }, { key }).then((r) => ({ key, seq, r }));
    }),
  );
  for (const { key, seq, r } of replies) {
    assert.is(r.count, seq, `${key}: message ${seq} is the ${r.count}th to run`);
    assert.is(r.lastSeq, seq - 1n, `${key}: message ${seq} ran after ${r.lastSeq}`);
  }
  await client.$close();
  await s.server.close();
});

test('64 concurrent clients, 20,000 messages over 100 keys: every count exact, none repeated', async () => {
  const s = await start();
  const clients = Array.from({ length: 64 }, () => benchClient(s.address, { pool: { connectionsPerEndpoint: 1 } }));
  const sent = new Map<string, number>();
  const counts = new Map<string, bigint[]>();
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < 20_000) {
        const i = next++;
        const key = `acct-${Math.floor(Math.random() * 100)}`;
        sent.set(key, (sent.get(key) ?? 0) + 1);
        const reply = await client.tally({ seq: BigInt(i + 1), delayUs: i % 7 === 0 ? 200 : 0 }, { key });
        (counts.get(key) ?? counts.set(key, []).get(key)!).push(reply.count);
      }
    }),
  );
  for (const [key, n] of sent) {
    const seen = counts.get(key)!.sort((a, b) => (a < b ? -1 : 1));
    assert.equal(
      seen,
      Array.from({ length: n }, (_, i) => BigInt(i + 1)),
      `${key}: counts 1..${n}, each once`,
    );
  }
  await Promise.all(clients.map((c) => c.$close()));
  await s.server.close();
});

test('activate is awaited before the first message; a throw fails its waiting messages with its status, and the next message retries', async () => {
  const s = await start({ actorWorkers: 1 }); // one key at a time: one thread will do
  const client = benchClient(s.address);
  const reports = await Promise.all(Array.from({ length: 5 }, () => probe(client, 'fresh')));
  assert.ok(reports.every((r) => r.activated && r.generation === 1));
  assert.equal(reports.map((r) => r.seen).sort(), [1, 2, 3, 4, 5]);
  const refused = await Promise.all(Array.from({ length: 3 }, () => failure(probe(client, 'refuse-me'))));
  for (const err of refused) {
    assert.is(err.code, Status.NOT_FOUND);
    assert.is(err.notRun, 'refused', 'no handler ran');
    assert.match(err.message, 'actor "refuse-me" of bench.v1.Bench failed to activate: no record of refuse-me');
  }
  assert.is(s.server.stats().actorLane!.activationFailures, 1, 'the waiting messages shared one activation');
  assert.is((await failure(probe(client, 'refuse-me'))).code, Status.NOT_FOUND, 'tried again, failed again');
  assert.is(s.server.stats().actorLane!.activationFailures, 2);
  await client.$close();
  await s.server.close();
});

test('passivation by idle time: deactivate runs once, and the next message activates the actor anew', async () => {
  const s = await start({ actorIdleMs: 100 });
  const client = benchClient(s.address);
  const first = await probe(client, 'idler');
  assert.is(first.generation, 1);
  await until(() => s.server.stats().actorLane!.passivations === 1, 5000, 'the idle actor to be passivated');
  assert.equal(s.server.stats().actorLane!.activeActors, [0, 0]);
  const again = await probe(client, 'idler');
  assert.is(again.thread, first.thread);
  assert.is(again.generation, 2);
  assert.is(again.seen, 1, 'a fresh state');
  assert.is(again.deactivated, 1, 'deactivate ran once');
  await client.$close();
  await s.server.close();
});

test('a graceful shutdown passivates every actor: each deactivate hook runs once, with the final state', async () => {
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'ringrpc-actors-')), 'deactivated.log');
  process.env['ACTOR_DEACTIVATE_LOG'] = log;
  try {
    const s = await start();
    const client = benchClient(s.address);
    await Promise.all(['a', 'b', 'c', 'a', 'a', 'b'].map((key) => probe(client, key)));
    await client.$close();
    await s.server.close();
    assert.equal(readFileSync(log, 'utf8').trim().split('\n').sort(), ['a 3', 'b 2', 'c 1']);
  } finally {
    delete process.env['ACTOR_DEACTIVATE_LOG'];
  }
});

test('passivation by capacity: the least recently used idle actors go first, each deactivated once', async () => {
  const s = await start({ actorWorkers: 1, maxActorsPerWorker: 5 });
  const client = benchClient(s.address);
  for (let i = 0; i < 8; i++) await probe(client, `k${i}`);
  const lane = s.server.stats().actorLane!;
  assert.equal(lane.activeActors, [5]);
  assert.is(lane.passivations, 3);
  // k0..k2 were evicted (least recently used); k3..k7 are still active.
  assert.is((await probe(client, 'k7')).generation, 1);
  const k0 = await probe(client, 'k0');
  assert.is(k0.generation, 2);
  assert.is(k0.deactivated, 1);
  await client.$close();
  await s.server.close();
});

test('a thread that dies: only its running message fails; the queued ones run, in order, on its replacement, with state rebuilt by activate', async () => {
  const s = await start({ actorWorkers: 1 });
  const client = benchClient(s.address, { retry: false, pool: { connectionsPerEndpoint: 1 } });
  const before = await probe(client, 'victim');
  assert.is(before.seen, 1);
  const killer = failure(probe(client, 'victim', { 'x-action': 'exit' }));
  const queued = Promise.all([probe(client, 'victim'), probe(client, 'victim'), probe(client, 'bystander')]);
  const err = await killer;
  assert.is(err.code, Status.UNAVAILABLE);
  assert.match(err.message, 'died');
  const [a, b, other] = await queued;
  assert.is.not(a.thread, before.thread, 'ran on the replacement');
  assert.equal([a.seen, b.seen], [1, 2], 'in order, against a state activate rebuilt');
  assert.ok(a.activated && a.generation === 1);
  assert.is(other.seen, 1);
  const lane = s.server.stats().actorLane!;
  assert.is(lane.rerun, 3);
  assert.is(lane.workerRestarts, 1);
  await client.$close();
  await s.server.close();
});

test('deadline and cancel of queued messages: the client hears at once, the server never runs them', async () => {
  const s = await start({ actorWorkers: 1 }); // one key: one thread will do
  const client = benchClient(s.address, { retry: false });
  const slow = probe(client, 'busy', { 'x-action': 'sleep', 'x-ms': '300' });
  await new Promise((r) => setTimeout(r, 30));
  const late = await failure(probe(client, 'busy', undefined, { timeoutMs: 50 }));
  assert.is(late.code, Status.DEADLINE_EXCEEDED);
  const controller = new AbortController();
  const cancelled = failure(probe(client, 'busy', undefined, { signal: controller.signal }));
  setTimeout(() => controller.abort(), 20);
  assert.is((await cancelled).code, Status.CANCELLED);
  const after = probe(client, 'busy');
  assert.is((await slow).seen, 1);
  assert.is((await after).seen, 2, 'neither the late nor the cancelled message ran');
  await client.$close();
  await s.server.close();
});

test('admission: no key, a key over 256 bytes, a full actor queue', async () => {
  const s = await start({ actorWorkers: 1, maxActorQueue: 2 });
  const client = benchClient(s.address, { retry: false });
  const noKey = await failure(client.echo({}));
  assert.is(noKey.code, Status.INVALID_ARGUMENT);
  assert.match(noKey.message, 'bench.v1.Bench/Echo runs on the actor lane and needs a key');
  assert.is((await failure(client.echo({}, { key: 'k'.repeat(257) }))).code, Status.INVALID_ARGUMENT, 'the client checks too');

  // A peer that sends the long key anyway: answered, and the connection stays open.
  const peer = await RawPeer.connect(s.port);
  peer.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Echo', key: 'é'.repeat(129) });
  const refused = await peer.next(FrameType.RESPONSE);
  assert.is(refused.decodedMeta.status, Status.INVALID_ARGUMENT);
  assert.is(refused.decodedMeta.message, 'key of bench.v1.Bench/Echo is 258 bytes, over the limit of 256');
  peer.send(FrameType.REQUEST, 2, { service: 'bench.v1.Bench', method: 'Echo', key: 'é'.repeat(128) });
  const ok = await peer.next(FrameType.RESPONSE);
  assert.is(decodeMeta(ok.meta).status, Status.OK);
  peer.destroy();

  const calls = Array.from({ length: 5 }, () => probe(client, 'hot', { 'x-action': 'sleep', 'x-ms': '100' }).catch((e: RpcError) => e));
  const results = await Promise.all(calls);
  const full = results.filter((r): r is RpcError => r instanceof RpcError);
  assert.is(full.length, 3);
  for (const e of full) {
    assert.is(e.code, Status.RESOURCE_EXHAUSTED);
    assert.is(e.notRun, 'refused');
    assert.match(e.message, 'queue of actor "hot" of bench.v1.Bench is full (maxActorQueue 2)');
  }
  assert.ok((await probe(client, 'other')).seen === 1, 'other keys are not refused');
  await client.$close();
  await s.server.close();
});

test('a hot key does not starve the other keys of its thread', async () => {
  const s = await start({ actorWorkers: 1 });
  const client = benchClient(s.address);
  const order: string[] = [];
  const hot = Array.from({ length: 40 }, (_, i) => probe(client, 'hot', { 'x-action': 'block', 'x-ms': '10' }).then(() => order.push(`hot-${i}`)));
  await new Promise((r) => setTimeout(r, 50)); // the hot key's backlog is in the thread
  const cold = probe(client, 'cold').then(() => order.push('cold'));
  await Promise.all([...hot, cold]);
  assert.ok(order.indexOf('cold') < order.indexOf('hot-39') - 10, `cold answered at ${order.indexOf('cold')} of 41`);
  await client.$close();
  await s.server.close();
});

test("the client's consistent hash sends one key to one of three servers", async () => {
  const servers = await Promise.all([start({ actorWorkers: 1 }), start({ actorWorkers: 1 }), start({ actorWorkers: 1 })]); // the servers' threads are not what is tested
  const client = benchClient(`static://${servers.map((s) => s.address).join(',')}`, { loadBalancer: 'consistent_hash' });
  const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => client.tally({ seq: BigInt(i + 1) }, { key: 'alice' })));
  assert.equal(
    replies.map((r) => r.count).sort((a, b) => (a < b ? -1 : 1)),
    Array.from({ length: 30 }, (_, i) => BigInt(i + 1)),
    'one actor, so one server, took every call of the key',
  );
  const holding = servers.filter((s) => s.server.stats().actorLane!.activations > 0);
  assert.is(holding.length, 1);
  await client.$close();
  await Promise.all(servers.map((s) => s.server.close()));
});

test('stats: deepest keys and message wait and run', async () => {
  const s = await start({ actorWorkers: 1 });
  const client = benchClient(s.address);
  const calls = Array.from({ length: 6 }, () => probe(client, 'deep', { 'x-action': 'sleep', 'x-ms': '30' }));
  await until(() => s.server.stats().actorLane!.deepestKeys[0]?.depth === 6, 2000, 'six messages of the key to be taken');
  assert.equal(s.server.stats().actorLane!.deepestKeys[0], { service: 'bench.v1.Bench', key: 'deep', depth: 6 });
  await Promise.all(calls);
  // The thread counts a message's run after writing its answer: the counters lag the replies a little.
  await until(() => s.server.stats().actorLane!.messageRun.count === 6, 2000, 'the sixth run to be counted');
  const lane = s.server.stats().actorLane!;
  assert.equal(lane.deepestKeys, []);
  assert.is(lane.messageRun.count, 6);
  assert.ok(lane.messageWait.sumUs > 5 * 30_000 * 0.9, `later messages waited for earlier ones (${lane.messageWait.sumUs} µs)`);
  assert.is(lane.completed, 6);

  const metrics = await serveMetrics(s.server, { port: 0, host: '127.0.0.1' });
  const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
  assert.match(text, 'ringrpc_actor_active{shard="0"} 1');
  assert.match(text, 'ringrpc_actor_activations_total 1');
  assert.match(text, 'ringrpc_actor_message_run_seconds_count 6');
  const page = await (await fetch(`http://127.0.0.1:${metrics.port}/`)).text();
  assert.match(page, '<h2>Actor lane</h2>');
  assert.match(page, '<tr><th>activations / passivations</th><td>1 / 0</td></tr>');
  await metrics.close();
  await client.$close();
  await s.server.close();
});

test.run();
