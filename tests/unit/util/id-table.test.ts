import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { IdTable } from '../../../src/util/id-table.js';

const test = suite('id-table');

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
  for (const [seed, kind] of [
    [1, 'own'],
    [2, 'own'],
    [3, 'peer'],
    [42, 'peer'],
  ] as const) {
    const next = random(seed);
    const table = new IdTable<string>(kind);
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

test('grows past thousands of entries, ids near 2^32 included, empties, and shrinks back', () => {
  for (const kind of ['own', 'peer'] as const) {
    const table = new IdTable<number>(kind);
    const ids = Array.from({ length: 20_000 }, (_, i) => (i % 2 === 0 ? i + 1 : 0xffff_ffff - i));
    for (const id of ids) table.set(id, id);
    assert.is(table.size, 20_000);
    for (const id of ids) assert.is(table.get(id), id);
    assert.not.ok(table.delete(12_345_678));
    assert.ok(table.slots >= 40_000);
    // Delete all but a few: the table shrinks on the way (to at most 1,024 slots, where it stops).
    const kept = ids.slice(0, 5);
    for (const id of ids.slice(5)) assert.ok(table.delete(id));
    assert.is(table.slots, 1024);
    for (const id of kept) assert.is(table.get(id), id, `${kind}: id ${id} survives the shrinking`);
    for (const id of kept) assert.ok(table.delete(id));
    assert.is(table.size, 0);
    assert.equal(table.snapshot(), []);
  }
});

test('a snapshot may be settled while iterating: deleting does not skip entries', () => {
  const table = new IdTable<number>('own');
  for (let id = 1; id <= 100; id++) table.set(id * 64, id); // all in one probe run
  const seen: number[] = [];
  for (const [id, v] of table.entries()) {
    table.delete(id);
    seen.push(v);
  }
  assert.is(seen.length, 100);
  assert.is(table.size, 0);
});

test('ids a peer picks to collide (multiples of a power of two) behave as a Map, and stay near their slots', () => {
  for (const stride of [64, 1024, 65_536, 0x8000_0000 / 1024]) {
    const table = new IdTable<number>('peer');
    const ids = Array.from({ length: 1000 }, (_, i) => ((i + 1) * stride) >>> 0).filter((id) => id !== 0);
    const model = new Map<number, number>();
    for (const id of ids) {
      table.set(id, id);
      model.set(id, id);
    }
    // Hashed, they spread: 1,000 entries in 2,048 slots probe a few dozen slots at worst (35 in 1,000 tables),
    // where a table indexed by the id's low bits puts every one in the same few slots.
    assert.ok(table.longestProbe() < 128, `stride ${stride}: a lookup probes up to ${table.longestProbe()} slots`);
    for (let i = 0; i < ids.length; i += 3) {
      assert.ok(table.delete(ids[i]!));
      model.delete(ids[i]!);
    }
    assert.is(table.size, model.size);
    for (const id of ids) assert.is(table.get(id), model.get(id), `stride ${stride}, id ${id}`);
    assert.equal(
      table.entries(),
      [...model.entries()].sort((a, b) => a[0] - b[0]),
    );
  }
  // The same ids in a table of our own ids (used as they are): the scan the hash prevents.
  const own = new IdTable<number>('own');
  for (let i = 1; i <= 1000; i++) own.set(i * 4096, i);
  assert.ok(own.longestProbe() > 900, `unhashed, ${own.longestProbe()}`);
});

test('consecutive ids: each in its own slot in a table of our own ids, near it in a peer-id table', () => {
  const own = new IdTable<number>('own');
  const peer = new IdTable<number>('peer');
  for (let id = 1_000_000; id < 1_000_256; id++) {
    own.set(id, id);
    peer.set(id, id);
  }
  assert.is(own.longestProbe(), 0);
  assert.ok(peer.longestProbe() < 128, `${peer.longestProbe()}`);
});

test.run();
