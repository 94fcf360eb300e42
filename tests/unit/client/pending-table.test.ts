import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PendingTable } from '../../../src/client/pending-table.js';

const test = suite('pending-table');

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('behaves as a Map under a sliding window of consecutive ids with long-lived stragglers', () => {
  for (const seed of [1, 2, 3, 42]) {
    const next = random(seed);
    const table = new PendingTable<string>();
    const model = new Map<number, string>();
    let id = 1;
    for (let step = 0; step < 50_000; step++) {
      if (model.size < 300 && next() < 0.55) {
        table.set(id, `v${id}`);
        model.set(id, `v${id}`);
        id++;
      } else if (model.size > 0) {
        // Mostly the oldest (answered in order), sometimes any (out of order), rarely none (a straggler stays).
        const keys = [...model.keys()];
        const pick = next() < 0.7 ? keys[0]! : keys[Math.floor(next() * keys.length)]!;
        if (next() < 0.98 || keys.length > 200) {
          assert.ok(table.delete(pick));
          model.delete(pick);
        }
      }
      if (step % 997 === 0) {
        assert.is(table.size, model.size);
        for (const [k, v] of model) assert.is(table.get(k), v, `id ${k} (seed ${seed}, step ${step})`);
        assert.is(table.get(id + 5), undefined);
        assert.not.ok(table.has(id + 5));
      }
    }
    assert.equal(
      table.entries(),
      [...model.entries()].sort((a, b) => a[0] - b[0]),
    );
  }
});

test('grows past thousands of entries, ids near 2^32 included, and empties', () => {
  const table = new PendingTable<number>();
  const ids = Array.from({ length: 20_000 }, (_, i) => (i % 2 === 0 ? i + 1 : 0xffff_ffff - i));
  for (const id of ids) table.set(id, id);
  assert.is(table.size, 20_000);
  for (const id of ids) assert.is(table.get(id), id);
  assert.not.ok(table.delete(12_345_678));
  for (const id of ids) assert.ok(table.delete(id));
  assert.is(table.size, 0);
  assert.equal(table.snapshot(), []);
});

test('a snapshot may be settled while iterating: deleting does not skip entries', () => {
  const table = new PendingTable<number>();
  for (let id = 1; id <= 100; id++) table.set(id * 64, id); // all in one probe run
  const seen: number[] = [];
  for (const [id, v] of table.entries()) {
    table.delete(id);
    seen.push(v);
  }
  assert.is(seen.length, 100);
  assert.is(table.size, 0);
});

test.run();
