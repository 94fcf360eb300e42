import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { batchLimit, lingerMs } from '../../../src/server/lane-pacing.js';

const test = suite('lane-pacing');

test('a batch holds about 20 ms of work, at most maxBatch, at most a fair share of what is in flight', () => {
  assert.is(batchLimit({ inflight: 64, workers: 2, perRequestMs: 0.9 }, 64), 16, 'fair share: 64 ÷ (2 workers × 2 tasks)');
  assert.is(batchLimit({ inflight: 1000, workers: 2, perRequestMs: 5 }, 64), 4, 'by time: 20 ms ÷ 5 ms');
  assert.is(batchLimit({ inflight: 4000, workers: 2, perRequestMs: 0.01 }, 64), 64, 'maxBatch');
  assert.is(batchLimit({ inflight: 4000, workers: 2, perRequestMs: undefined }, 64), 64, 'time unknown yet: maxBatch');
  assert.is(batchLimit({ inflight: 1, workers: 2, perRequestMs: 100 }, 64), 1, 'a lone request goes alone');
});

test('linger: a third of the queue wait in whole ms, at most 10, none without a backlog or below 1 ms', () => {
  assert.is(lingerMs({ inflight: 64, workers: 2, perRequestMs: 0.9 }), 9, 'Work at C=64: 64 × 0.9 ÷ 2 = 28.8 ms of wait');
  assert.is(lingerMs({ inflight: 1000, workers: 2, perRequestMs: 1 }), 10, 'capped');
  assert.is(lingerMs({ inflight: 4, workers: 2, perRequestMs: 50 }), 0, 'no backlog: two per worker are running or ready');
  assert.is(lingerMs({ inflight: 256, workers: 2, perRequestMs: 0.008 }), 0, 'Echo at C=256: a third of ~1 ms is under 1 ms');
  assert.is(lingerMs({ inflight: 256, workers: 2, perRequestMs: undefined }), 0, 'time unknown yet');
});

test.run();
