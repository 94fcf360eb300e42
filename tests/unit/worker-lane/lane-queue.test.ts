import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LaneQueue, type QueuedEntry } from '../../../src/worker-lane/lane-queue.js';

const test = suite('lane-queue');

/** An entry whose call has only what the queue touches: its abort hook. */
function entry(slot: number): QueuedEntry & { call: { onAbort: (() => void) | undefined } } {
  return { slot, call: { onAbort: undefined }, handOffs: 0, queued: false } as unknown as QueuedEntry & { call: { onAbort: (() => void) | undefined } };
}

test('a call ended while queued frees its slot at once, is not counted, and is skipped when its turn comes', () => {
  const freed: number[] = [];
  const queue = new LaneQueue((slot) => freed.push(slot));
  const entries = [entry(0), entry(1), entry(2), entry(3)];
  for (const e of entries) queue.push(e);
  assert.is(queue.length, 4);
  entries[1]!.call.onAbort!();
  entries[1]!.call.onAbort!(); // a second abort changes nothing
  assert.equal(freed, [1]);
  assert.is(queue.length, 3, 'queueDepth does not count it');
  assert.equal(
    queue.take(2).map((e) => e.slot),
    [0, 2],
    'two live entries, the ended one skipped',
  );
  assert.is(queue.length, 1);
  entries[3]!.call.onAbort!();
  assert.equal(queue.take(5), [], 'only an ended entry was left');
  assert.is(queue.length, 0);
  assert.equal(freed, [1, 3]);
});

test('requeue puts entries back at the head, in order; clear returns those still waiting', () => {
  const queue = new LaneQueue(() => {});
  const [a, b, c] = [entry(0), entry(1), entry(2)];
  queue.push(c);
  const taken = [a, b];
  queue.requeue(taken);
  assert.equal(
    queue.take(2).map((e) => e.slot),
    [0, 1],
  );
  assert.equal(
    queue.clear().map((e) => e.slot),
    [2],
  );
  assert.is(queue.length, 0);
});

test.run();
