import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TimerQueue } from '../../../src/util/timer-queue.js';

const test = suite('timer-queue');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runs callbacks in due order, equal due times in scheduling order', async () => {
  const q = new TimerQueue();
  const order: string[] = [];
  q.schedule(30, () => order.push('c'));
  q.schedule(10, () => order.push('a1'));
  q.schedule(10, () => order.push('a2'));
  q.schedule(20, () => order.push('b'));
  q.schedule(0, () => order.push('now'));
  await sleep(60);
  assert.equal(order, ['now', 'a1', 'a2', 'b', 'c']);
  assert.is(q.size, 0);
});

test('a cancelled entry never runs; cancel twice is harmless', async () => {
  const q = new TimerQueue();
  const ran: number[] = [];
  const t = q.schedule(10, () => ran.push(1));
  q.schedule(15, () => ran.push(2));
  t.cancel();
  t.cancel();
  assert.is(q.size, 1);
  await sleep(40);
  assert.equal(ran, [2]);
});

test('an earlier entry re-arms the one timer; thousands of entries fire from it', async () => {
  const q = new TimerQueue();
  let n = 0;
  for (let i = 0; i < 5000; i++) q.schedule(5 + (i % 20), () => n++);
  const early: number[] = [];
  q.schedule(1, () => early.push(Date.now()));
  await sleep(60);
  assert.is(n, 5000);
  assert.is(early.length, 1);
});

test('entries scheduled from a callback run too', async () => {
  const q = new TimerQueue();
  const seen: string[] = [];
  q.schedule(5, () => {
    seen.push('first');
    q.schedule(5, () => seen.push('second'));
  });
  // Waits for the second rather than a fixed time: on a loaded machine timers fire late.
  for (let waited = 0; seen.length < 2 && waited < 2000; waited += 10) await sleep(10);
  assert.equal(seen, ['first', 'second']);
});

test.run();
