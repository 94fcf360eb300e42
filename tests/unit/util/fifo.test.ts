import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fifo } from '../../../src/util/fifo.js';

test('fifo: first in, first out, across compactions', () => {
  const q = new Fifo<number>();
  assert.is(q.shift(), undefined);
  const out: number[] = [];
  let next = 0;
  // Interleave pushes and shifts so the head passes the compaction threshold many times.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) q.push(next++);
    for (let i = 0; i < 60; i++) out.push(q.shift()!);
  }
  for (let v = q.shift(); v !== undefined; v = q.shift()) out.push(v);
  assert.equal(
    out,
    Array.from({ length: next }, (_, i) => i),
  );
  assert.is(q.length, 0);
});

test.run();
