import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LaneStreams } from '../../../src/worker-lane/lane-streams.js';
import { ThreadStream } from '../../../src/worker-lane/thread-stream.js';
import { WorkerSlots } from '../../../src/worker-lane/worker-slots.js';
import { RECORD_MESSAGE } from '../../../src/worker-lane/stream-records.js';
import type { ServerCall } from '../../../src/server/server-call.js';
import type { StreamSink } from '../../../src/pipeline/stream-pipeline.js';

const test = suite('lane-streams: stream replies counted for pacing');

/** A lane's streams with one live server stream whose client granted `window` bytes; its replies are counted by the sink. */
function setup(window: number) {
  const table = new WorkerSlots<ServerCall>(4);
  const streams = new LaneStreams(table);
  const sent: number[] = [];
  const sink: StreamSink = { copiesBelow: 16 * 1024, message: (body) => sent.push(body.length), grant: () => {} };
  const stream = new ThreadStream(sink, { receiveWindow: 65_536, sendWindow: window, maxCredit: 0x7fff_ffff, maxBytes: 1 << 20 }, 1, false);
  const slot = table.acquire({ ended: false, stream } as unknown as ServerCall)!;
  const drain = (replies: number): void => {
    for (let i = 0; i < replies; i++) streams.record(slot, RECORD_MESSAGE, Buffer.alloc(10));
  };
  return { streams, drain, sent };
}

test('replies of small drains add up within a millisecond; past it, the count starts over with the drain at hand', () => {
  const { streams, drain, sent } = setup(1 << 20);
  drain(5);
  assert.is(streams.recentReplies(false, 1000), 5, 'the first drain begins the count');
  drain(5);
  assert.is(streams.recentReplies(false, 1000.3), 10);
  drain(6);
  assert.is(streams.recentReplies(false, 1000.6), 16, 'fast enough to count as flowing');
  drain(3);
  assert.is(streams.recentReplies(false, 1002), 3, 'a millisecond on: only this drain');
  drain(2);
  assert.is(streams.recentReplies(false, 1050), 2, 'a trickle never adds up');
  assert.is(sent.length, 21, 'every reply went to its connection');
});

test('a stream that spent its credit, or a producer that waited for room, stops the count', () => {
  const spent = setup(0);
  spent.drain(40);
  assert.is(spent.streams.recentReplies(false, 1000), 0, 'credit spent: its client grants more once it reads these');
  const full = setup(1 << 20);
  full.drain(40);
  assert.is(full.streams.recentReplies(true, 1000), 0, 'a full ring: the next drain frees it');
  full.drain(4);
  assert.is(full.streams.recentReplies(false, 1000.2), 4, 'counted afresh after');
});

test.run();
