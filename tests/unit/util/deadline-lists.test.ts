import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DeadlineLists, type Deadline } from '../../../src/util/deadline-lists.js';

const test = suite('deadline-lists');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An entry that records when it fired (`performance.now()`), or -1. */
function entry(onFire?: () => void): Deadline & { firedAt: number } {
  return {
    deadlineAt: 0,
    deadlinePrev: undefined,
    deadlineNext: undefined,
    deadlineList: undefined,
    firedAt: -1,
    onDeadline() {
      this.firedAt = performance.now();
      onFire?.();
    },
  };
}

test('an entry fires once its duration has passed, never before, and not much after', async () => {
  const lists = new DeadlineLists();
  const e = entry();
  const t0 = performance.now();
  lists.add(e, 30);
  await sleep(120);
  assert.ok(e.firedAt >= t0 + 30, `fired ${(e.firedAt - t0).toFixed(1)} ms after being added, before its 30 ms`);
  assert.ok(e.firedAt < t0 + 100, `fired ${(e.firedAt - t0).toFixed(1)} ms after being added`);
  assert.is(lists.size, 0);
  assert.is(lists.timers, 0, 'the emptied list took its timer with it');
});

test('entries of one duration fire in the order added; other durations keep their own order', async () => {
  const lists = new DeadlineLists();
  const order: string[] = [];
  lists.add(
    entry(() => order.push('40a')),
    40,
  );
  lists.add(
    entry(() => order.push('10a')),
    10,
  );
  await sleep(5);
  lists.add(
    entry(() => order.push('40b')),
    40,
  );
  lists.add(
    entry(() => order.push('10b')),
    10,
  );
  assert.is(lists.timers, 2, 'one timer per duration');
  await sleep(100);
  assert.equal(order, ['10a', '10b', '40a', '40b']);
});

test('thousands of entries removed: none fires, and no timer is left', async () => {
  const lists = new DeadlineLists();
  const all = Array.from({ length: 5000 }, () => entry());
  for (const [i, e] of all.entries()) lists.add(e, 20 + (i % 3));
  assert.is(lists.size, 5000);
  assert.is(lists.timers, 3);
  // Removed out of order: from the middle, the ends, then the rest.
  for (let i = 1; i < all.length; i += 2) lists.remove(all[i]!);
  lists.remove(all[0]!);
  lists.remove(all[all.length - 2]!);
  for (const e of all) lists.remove(e); // a second remove is a no-op
  assert.is(lists.size, 0);
  assert.is(lists.timers, 0);
  await sleep(50);
  assert.ok(
    all.every((e) => e.firedAt === -1),
    'no removed entry fired',
  );
});

test('removing some entries leaves the others to fire on time', async () => {
  const lists = new DeadlineLists();
  const kept = entry();
  const gone = entry();
  lists.add(gone, 15);
  lists.add(kept, 15);
  lists.remove(gone);
  await sleep(60);
  assert.is(gone.firedAt, -1);
  assert.ok(kept.firedAt > 0);
});

test('an entry added from a firing one is armed (the emptied list re-arms its timer once)', async () => {
  const lists = new DeadlineLists();
  const second = entry();
  lists.add(
    entry(() => lists.add(second, 10)),
    10,
  );
  await sleep(80);
  assert.ok(second.firedAt > 0, 'the entry added while the list fired fired too');
  assert.is(lists.timers, 0);
});

test.run();
