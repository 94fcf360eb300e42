import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { actorId, shardOf } from '../../../src/actor-lane/actor-key.js';

test('shardOf: sequential keys spread as a random function would (within 3.5 standard deviations)', () => {
  for (const shape of [(i: number) => `key-${i}`, (i: number) => `user:${i}`, (i: number) => String(i), (i: number) => `room-${i}`]) {
    for (const shards of [2, 3, 4, 8]) {
      for (const n of [1000, 10_000]) {
        const counts = new Array<number>(shards).fill(0);
        for (let i = 0; i < n; i++) counts[shardOf(shape(i), shards)]!++;
        const sd = Math.sqrt((n / shards) * (1 - 1 / shards));
        for (const c of counts) assert.ok(Math.abs(c - n / shards) < 3.5 * sd, `${shape(0)}…, ${n} keys over ${shards}: ${counts}`);
      }
    }
  }
});

test('shardOf: stable, in range, and even within 5% over 100,000 keys of several shapes', () => {
  for (const shards of [1, 2, 3, 8]) {
    for (const shape of [(i: number) => `user-${i}`, (i: number) => String(i), (i: number) => `${i}-é-${i * 7}`]) {
      const counts = new Array<number>(shards).fill(0);
      for (let i = 0; i < 100_000; i++) {
        const shard = shardOf(shape(i), shards);
        assert.ok(shard >= 0 && shard < shards);
        counts[shard]!++;
      }
      const even = 100_000 / shards;
      for (const n of counts) assert.ok(Math.abs(n - even) < even * 0.05, `${shards} shards: ${counts}`);
    }
  }
  assert.is(shardOf('alice', 4), shardOf('alice', 4));
  assert.is(shardOf('', 3), shardOf('', 3));
});

test('actorId: one key of two services is two actors', () => {
  assert.is.not(actorId('a.A', 'k'), actorId('a.B', 'k'));
});

test.run();
