import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createServer,
  RpcError,
  Status,
  type CallOutcome,
  type ClientAttempt,
  type ClientInterceptor,
  type Lane,
  type ServerInterceptor,
} from '../../src/index.js';
import { Bench, benchClient, startBenchServer, handlers } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { Bench as actorHandlers } from '../fixtures/actor-handlers.js';

/**
 * What interceptors learn beyond the status: on the server, the call's lane, its failure's
 * message and, when a worker or actor thread ran it, how long it queued and ran (stamped
 * in the thread, on the reactor's clock); on the client, each attempt as it is sent.
 */
const test = suite('interceptor outcome');

/** A server whose interceptor keeps every outcome, by the `x-id` metadata of the call. */
async function start(lanes: Record<string, Lane>, options: { workers?: number; actorWorkers?: number } = {}, module = 'tests/fixtures/lane-handlers.ts') {
  const outcomes = new Map<string, CallOutcome>();
  const keep: ServerInterceptor = async (call, next) => {
    const outcome = await next();
    outcomes.set(call.metadata['x-id'] ?? '', outcome);
    return outcome;
  };
  const impl = module.includes('actor') ? actorHandlers : laneHandlers;
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, actorWorkers: 1, ...options, interceptors: [keep] }).addService(Bench, impl, {
    lanes,
    workerModule: module,
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, outcomes };
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

test('worker lane: a handler that blocks 40 ms runs about 40 ms; the call behind it on the one thread queued about as long', async () => {
  const s = await start({ echo: 'worker' });
  const c = benchClient(s.address);
  const block = (id: string) => c.echo({}, { metadata: { 'x-id': id, 'x-action': 'block', 'x-ms': '40' } });
  const sent = performance.now();
  await Promise.all([block('first'), block('second')]);
  const answered = performance.now();
  const first = s.outcomes.get('first')!;
  const second = s.outcomes.get('second')!;
  assert.is(first.lane, 'worker');
  assert.is(first.status, Status.OK);
  assert.is(first.message, '');
  for (const o of [first, second]) {
    assert.ok(o.runMs! >= 39 && o.runMs! < 1000, `runMs ${o.runMs}`);
    assert.ok(o.queuedMs! >= 0, `queuedMs ${o.queuedMs}`);
    // The thread's stamps, on this thread's clock: the queue wait starts after the calls were sent, the run ends before they were answered.
    assert.ok(
      o.beganAt! - o.queuedMs! >= sent && o.beganAt! + o.runMs! <= answered,
      `${sent} ≤ ${o.beganAt! - o.queuedMs!}, ${o.beganAt! + o.runMs!} ≤ ${answered}`,
    );
  }
  // One thread: whichever ran second waited for the other to run.
  const later = Math.max(first.queuedMs!, second.queuedMs!);
  assert.ok(later >= 35 && later < 2000, `the later call queued ${later} ms behind a 40 ms one`);
  await c.$close();
  await s.server.close();
});

test('worker lane: a failure’s message is read from the worker’s answer; a refusal by the lane has no run times', async () => {
  const s = await start({ echo: 'worker' }, { workers: 1 });
  const c = benchClient(s.address, { retry: false });
  assert.is((await failure(c.echo({}, { metadata: { 'x-id': 'status', 'x-action': 'status' } }))).code, Status.NOT_FOUND);
  const failed = s.outcomes.get('status')!;
  assert.is(failed.status, Status.NOT_FOUND);
  assert.is(failed.message, 'nothing here');
  assert.ok(failed.runMs !== undefined, 'the handler ran');
  // A deadline passed before the call could run: no thread began it.
  await failure(c.echo({}, { timeoutMs: 30, metadata: { 'x-id': 'blocker', 'x-action': 'block', 'x-ms': '120' } }));
  const late = await failure(c.echo({}, { timeoutMs: 20, metadata: { 'x-id': 'late' } }));
  assert.is(late.code, Status.DEADLINE_EXCEEDED);
  await new Promise((r) => setTimeout(r, 200)); // the server ends it when the blocker's worker gets to it
  const lateOutcome = s.outcomes.get('late')!;
  assert.is(lateOutcome.status, Status.DEADLINE_EXCEEDED);
  assert.is(lateOutcome.queuedMs, undefined);
  assert.is(lateOutcome.runMs, undefined);
  await c.$close();
  await s.server.close();
});

test('inline lane: the lane and the message, no thread times', async () => {
  const s = await start({});
  const c = benchClient(s.address, { retry: false });
  await c.echo({}, { metadata: { 'x-id': 'ok' } });
  await failure(c.echo({}, { metadata: { 'x-id': 'thrown', 'x-action': 'throw' } }));
  const ok = s.outcomes.get('ok')!;
  assert.equal([ok.lane, ok.status, ok.message, ok.queuedMs, ok.runMs], ['inline', Status.OK, '', undefined, undefined]);
  const thrown = s.outcomes.get('thrown')!;
  assert.equal([thrown.lane, thrown.status, thrown.message], ['inline', Status.UNKNOWN, 'handler failed on purpose']);
  await c.$close();
  await s.server.close();
});

test('actor lane: the wait behind the key’s earlier message, inside the thread, counts as queued', async () => {
  const s = await start({ echo: 'actor' }, {}, 'tests/fixtures/actor-handlers.ts');
  const c = benchClient(s.address);
  const block = (id: string) => c.echo({}, { key: 'k', metadata: { 'x-id': id, 'x-action': 'block', 'x-ms': '40' } });
  await block('warm'); // activation (20 ms) out of the way
  await Promise.all([block('a'), block('b')]);
  const a = s.outcomes.get('a')!;
  const b = s.outcomes.get('b')!;
  assert.is(a.lane, 'actor');
  for (const o of [a, b]) assert.ok(o.runMs! >= 39 && o.runMs! < 1000, `runMs ${o.runMs}`);
  const later = Math.max(a.queuedMs!, b.queuedMs!);
  assert.ok(later >= 35 && later < 2000, `the later message queued ${later} ms behind its key's 40 ms one`);
  await c.$close();
  await s.server.close();
});

test('client: onAttempt is told of each attempt with its own metadata, and how each ended', async () => {
  let calls = 0;
  const seen: string[] = [];
  const s = await startBenchServer(
    {},
    {
      ...handlers,
      echo(request, ctx) {
        seen.push(ctx.metadata['x-attempt'] ?? '');
        if (++calls === 1) throw new RpcError(Status.UNAVAILABLE, 'try again');
        return { payload: request.payload };
      },
    },
  );
  const attempts: Array<{ attempt: number; address: string; ended?: string }> = [];
  const follow: ClientInterceptor = (call, next) => {
    const previous = call.onAttempt;
    call.onAttempt = (a: ClientAttempt) => {
      const mine = { attempt: a.attempt, address: `${a.host}:${a.port}` } as (typeof attempts)[number];
      attempts.push(mine);
      a.metadata['x-attempt'] = String(a.attempt);
      previous?.(a);
      return (error) => {
        mine.ended = error === undefined ? 'OK' : error.codeName;
      };
    };
    return next();
  };
  const c = benchClient(s.address, {
    interceptors: [follow],
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, retryableStatuses: ['UNAVAILABLE'] },
    methods: { Echo: { idempotent: true } },
  });
  await c.echo({ payload: Buffer.from('x') }, { metadata: { 'x-call': 'one' } });
  assert.equal(attempts, [
    { attempt: 1, address: s.address, ended: 'UNAVAILABLE' },
    { attempt: 2, address: s.address, ended: 'OK' },
  ]);
  assert.equal(seen, ['1', '2'], 'each attempt carried its own metadata');
  await c.$close();
  await s.server.close();
});

test('client: an onAttempt that throws fails the call as an interceptor’s throw would, UNKNOWN, and nothing is sent', async () => {
  const s = await startBenchServer();
  const c = benchClient(s.address, {
    interceptors: [
      (call, next) => {
        call.onAttempt = () => {
          throw new Error('follower broke');
        };
        return next();
      },
    ],
  });
  const err = await failure(c.echo({}));
  assert.is(err.code, Status.UNKNOWN);
  assert.match(err.message, 'follower broke');
  assert.is(s.server.stats().methods['bench.v1.Bench/Echo']?.requests ?? 0, 0);
  await c.$close();
  await s.server.close();
});

test.run();
