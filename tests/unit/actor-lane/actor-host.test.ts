import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as delay } from 'node:timers/promises';
import { RpcError, Status } from '../../../src/index.js';
import { ActorCounters, ActorHost, type ActorHooks } from '../../../src/actor-lane/actor-host.js';
import type { Actor } from '../../../src/pipeline/handler-context.js';

const info = { service: 'test.v1.S' };
const host = (hooks: { idleMs?: number; maxActors?: number } = {}): ActorHost =>
  new ActorHost(
    { shard: 0, idleMs: hooks.idleMs ?? 60_000, maxActors: hooks.maxActors ?? 100, counters: new SharedArrayBuffer(ActorCounters.BYTES) },
    () => {},
  );

/** A message that records when it starts and ends, awaiting `ms` in between. */
function message(log: string[], name: string, ms: number) {
  return {
    run: (actor: Actor<{ n: number }>) => {
      log.push(`${name} start (state ${actor.state.n})`);
      actor.state.n++;
      return ms === 0 ? (log.push(`${name} end`), undefined) : delay(ms).then(() => void log.push(`${name} end`));
    },
    fail: (e: RpcError) => log.push(`${name} failed: ${e.code}`),
  };
}

test('one message at a time per actor, in delivery order, across awaits; another key interleaves', async () => {
  const h = host();
  const hooks: ActorHooks = { activate: () => ({ n: 0 }) };
  const log: string[] = [];
  await Promise.all([
    h.deliver('a', info, hooks, message(log, 'a1', 20)),
    h.deliver('a', info, hooks, message(log, 'a2', 0)),
    h.deliver('b', info, hooks, message(log, 'b1', 5)),
    h.deliver('a', info, hooks, message(log, 'a3', 5)),
  ]);
  const a = log.filter((l) => l.startsWith('a'));
  assert.equal(a, ['a1 start (state 0)', 'a1 end', 'a2 start (state 1)', 'a2 end', 'a3 start (state 2)', 'a3 end']);
  assert.ok(log.indexOf('b1 start (state 0)') < log.indexOf('a1 end'), 'b ran while a awaited');
});

test('messages that arrive while an actor deactivates wait for its next activation, which sees what deactivate saved', async () => {
  const saved = new Map<string, number>();
  const hooks: ActorHooks = {
    activate: async (key) => ({ n: saved.get(key) ?? 0 }),
    deactivate: async (key, state) => {
      await delay(30);
      saved.set(key, (state as { n: number }).n);
    },
  };
  const h = host({ idleMs: 10 });
  const log: string[] = [];
  await h.deliver('k', info, hooks, message(log, 'm1', 0));
  await delay(30); // the sweep (every 10 ms) starts passivating it: deactivate takes 30 ms
  await h.deliver('k', info, hooks, message(log, 'm2', 0));
  assert.equal(log, ['m1 start (state 0)', 'm1 end', 'm2 start (state 1)', 'm2 end']);
  assert.is(h.counters.passivations, 1);
  assert.is(h.counters.activations, 2);
});

test('a throwing activate fails its waiting messages with its status; a plain error is UNAVAILABLE', async () => {
  const h = host();
  const log: string[] = [];
  await Promise.all([
    h.deliver('x', info, { activate: () => Promise.reject(new RpcError(Status.NOT_FOUND, 'gone')) }, message(log, 'x1', 0)),
    h.deliver('x', info, {}, message(log, 'x2', 0)),
  ]);
  await h.deliver(
    'y',
    info,
    {
      activate: () => {
        throw new Error('db down');
      },
    },
    message(log, 'y1', 0),
  );
  assert.equal(log, [`x1 failed: ${Status.NOT_FOUND}`, `x2 failed: ${Status.NOT_FOUND}`, `y1 failed: ${Status.UNAVAILABLE}`]);
  assert.is(h.counters.activationFailures, 2);
  assert.is(h.counters.active, 0);
});

test('over maxActors, the least recently used idle actor is passivated; a busy one never is', async () => {
  const h = host({ maxActors: 2 });
  const gone: string[] = [];
  const hooks: ActorHooks = { activate: () => ({ n: 0 }), deactivate: (key) => void gone.push(key) };
  const log: string[] = [];
  const busy = h.deliver('busy', info, hooks, message(log, 'busy', 50));
  await h.deliver('idle', info, hooks, message(log, 'idle', 0));
  await h.deliver('third', info, hooks, message(log, 'third', 0));
  assert.equal(gone, ['idle']);
  await busy;
  assert.is(h.counters.active, 2);
});

test.run();
