import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { batchLimit, lingerMs, pickWorker, QUEUE_BEHIND_MAX_MS } from '../../../src/worker-lane/lane-pacing.js';

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

test('linger: 1 ms while streams flow (16 replies in the last drain or more) and no unary call is in flight', () => {
  assert.is(lingerMs({ inflight: 0, workers: 2, perRequestMs: undefined, streamReplies: 400 }), 1, 'flowing streams alone');
  assert.is(lingerMs({ inflight: 0, workers: 2, perRequestMs: 0.5, streamReplies: 16 }), 1, 'at the threshold');
  assert.is(lingerMs({ inflight: 0, workers: 2, perRequestMs: undefined, streamReplies: 15 }), 0, 'a few replies: each goes at once');
  assert.is(
    lingerMs({ inflight: 3, workers: 2, perRequestMs: 0.5, streamReplies: 400 }),
    0,
    'unary calls in flight beside the stream: their answers wait for none',
  );
  assert.is(lingerMs({ inflight: 256, workers: 2, perRequestMs: 0.008, streamReplies: 400 }), 0, 'Echo at C=256 beside a flowing stream');
  assert.is(lingerMs({ inflight: 64, workers: 2, perRequestMs: 0.9, streamReplies: 400 }), 9, 'a backlog lingers as it always did');
});

test('the next batch: an idle worker first, else behind the oldest running batch that is not slow', () => {
  assert.is(
    pickWorker([
      { batches: 1, batchAgeMs: 5 },
      { batches: 0, batchAgeMs: undefined },
    ]),
    1,
    'idle first',
  );
  assert.is(
    pickWorker([
      { batches: 1, batchAgeMs: 5 },
      { batches: 1, batchAgeMs: 12 },
    ]),
    1,
    'the oldest batch ends first',
  );
  assert.is(
    pickWorker([
      { batches: 1, batchAgeMs: undefined },
      { batches: 2, batchAgeMs: 1 },
    ]),
    0,
    'a batch not yet begun counts as young',
  );
  assert.is(
    pickWorker([
      { batches: 1, batchAgeMs: QUEUE_BEHIND_MAX_MS + 1 },
      { batches: 1, batchAgeMs: 3 },
    ]),
    1,
    'nothing queues behind a slow batch',
  );
  assert.is(
    pickWorker([
      { batches: 1, batchAgeMs: QUEUE_BEHIND_MAX_MS + 1 },
      { batches: 2, batchAgeMs: 3 },
    ]),
    -1,
    'held back until a worker frees',
  );
  assert.is(
    pickWorker([
      { batches: 2, batchAgeMs: 1 },
      { batches: 2, batchAgeMs: 1 },
    ]),
    -1,
    'every worker holds two',
  );
  assert.is(pickWorker([]), -1);
});

test('the next batch with a core kept for the reactor: no idle worker beyond maxRunning, unless one is stuck', () => {
  const oneRunning = [
    { batches: 1, batchAgeMs: 5 },
    { batches: 0, batchAgeMs: undefined },
  ];
  assert.is(pickWorker(oneRunning, 1), 0, 'behind the running batch, not on the idle worker');
  assert.is(pickWorker(oneRunning, 2), 1, 'idle first when both may run');
  assert.is(
    pickWorker(
      [
        { batches: 2, batchAgeMs: 5 },
        { batches: 0, batchAgeMs: undefined },
      ],
      1,
    ),
    -1,
    'held back: the running worker holds two',
  );
  assert.is(
    pickWorker(
      [
        { batches: 2, batchAgeMs: QUEUE_BEHIND_MAX_MS + 1 },
        { batches: 0, batchAgeMs: undefined },
      ],
      1,
    ),
    1,
    'a worker stuck in a slow batch does not count: the idle one takes it',
  );
  assert.is(pickWorker([{ batches: 0, batchAgeMs: undefined }], 1), 0, 'the first batch always runs');
});

test.run();
