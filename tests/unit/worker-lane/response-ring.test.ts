import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import {
  allocateRing,
  RingConsumer,
  RingProducer,
  RecordBuffer,
  readRecords,
  SHARED_CONTROL_BYTES,
  DOORBELL,
  SLEEPING,
} from '../../../src/worker-lane/response-ring.js';

const test = suite('response-ring');

function pair(bytes: number, start = 0) {
  const memory = allocateRing(bytes, start);
  const shared = new Int32Array(new SharedArrayBuffer(SHARED_CONTROL_BYTES));
  return { memory, shared, producer: new RingProducer(memory, shared), consumer: new RingConsumer(memory) };
}

function drainAll(consumer: RingConsumer): Array<{ slot: number; status: number; frame: Buffer }> {
  const out: Array<{ slot: number; status: number; frame: Buffer }> = [];
  consumer.drain((slot, status, frame) => out.push({ slot, status, frame: Buffer.from(frame) }));
  return out;
}

test('records come out in order with their slot, status and bytes', () => {
  const { producer, consumer } = pair(4096);
  assert.is(producer.write(1, 0, [Buffer.from('ab'), Buffer.from('cde')]), true);
  assert.is(producer.write(2, 14, []), true);
  const got = drainAll(consumer);
  assert.equal(
    got.map((r) => [r.slot, r.status, r.frame.toString()]),
    [
      [1, 0, 'abcde'],
      [2, 14, ''],
    ],
  );
  assert.not.ok(consumer.pending);
});

test('a full ring refuses, and takes records again once drained', () => {
  const { producer, consumer } = pair(1024);
  let written = 0;
  while (producer.write(written, 0, [Buffer.alloc(100)]) === true) written++;
  assert.is(producer.write(99, 0, [Buffer.alloc(100)]), 'full');
  assert.ok(written >= 8 && written <= 9, `${written} records of 120 bytes in 1 KiB`);
  assert.is(drainAll(consumer).length, written);
  assert.is(producer.write(100, 0, [Buffer.alloc(100)]), true);
});

test('a producer facing a full ring is woken by the drain, not by a timer; a drain before it waits is not missed', async () => {
  const { producer, consumer } = pair(1024);
  while (producer.write(1, 0, [Buffer.alloc(100)]) === true);
  const waiting = producer.roomFreed();
  assert.is(drainAll(consumer).length > 0, true);
  assert.is(await waiting, 'ok');
  // Full again, drained before the producer waits: READ has moved, so it does not wait at all.
  while (producer.write(2, 0, [Buffer.alloc(100)]) === true);
  drainAll(consumer);
  assert.is(await producer.roomFreed(), 'not-equal');
  // Full, and nobody drains: the safety net's timeout, then the writer looks again.
  while (producer.write(3, 0, [Buffer.alloc(100)]) === true);
  assert.is(await producer.roomFreed(), 'timed-out');
});

test('a record over a quarter of the ring is refused as oversized', () => {
  const { producer } = pair(1024);
  assert.is(producer.write(1, 0, [Buffer.alloc(256 - 16)]), true);
  assert.is(producer.write(1, 0, [Buffer.alloc(256)]), 'oversized');
});

test('wrap-around of the region (PAD records) and of the 32-bit counters', () => {
  // Counters start 3 KiB below 2^32: they wrap through zero during the test.
  const { producer, consumer, memory } = pair(2048, (2 ** 32 - 3072) | 0);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 3; k++) {
      const size = (next * 53) % 400;
      if (producer.write(next, next % 7, [Buffer.alloc(size, next & 0xff)]) !== true) break;
      next++;
    }
    for (const r of drainAll(consumer)) {
      assert.is(r.slot, expected, 'in order');
      assert.is(r.status, expected % 7);
      assert.is(r.frame.length, (expected * 53) % 400);
      assert.ok(
        r.frame.every((b) => b === (expected & 0xff)),
        'bytes intact',
      );
      expected++;
    }
  }
  assert.is(expected, next);
  assert.ok(next > 300);
  const write = new Int32Array(memory.control)[0]! >>> 0;
  assert.ok(write < 2 ** 31, `the write counter wrapped (now ${write})`);
});

test("the running batch's age: none between batches, wrapping 32-bit ms while one runs", () => {
  const { producer, consumer } = pair(1024);
  assert.is(consumer.batchAgeMs(Date.now()), undefined);
  producer.startBatch();
  const now = Date.now();
  const age = consumer.batchAgeMs(now + 50)!;
  assert.ok(age >= 50 && age < 1000, `age ${age}`);
  // Date.now() | 0 wraps every 2³² ms: the age stays right across the wrap.
  assert.is(consumer.batchAgeMs(now + 2 ** 32 + 50), age);
  producer.endBatch();
  assert.is(consumer.batchAgeMs(Date.now()), undefined);
});

test('the fallback record buffer uses the same layout', () => {
  const buffer = new RecordBuffer();
  buffer.add(7, 0, [Buffer.from('hello')]);
  buffer.add(8, 13, []);
  const out: Array<[number, number, string]> = [];
  readRecords(buffer.take(), (slot, status, frame) => out.push([slot, status, frame.toString()]));
  assert.equal(out, [
    [7, 0, 'hello'],
    [8, 13, ''],
  ]);
  assert.ok(buffer.isEmpty);
});

test('a producer thread and this thread as consumer: doorbell wake-ups, full ring, nothing lost', async () => {
  const { memory, shared, consumer } = pair(4096);
  const count = 20_000;
  const worker = new Worker(fileURLToPath(new URL('../../fixtures/ts-worker.mjs', import.meta.url)), {
    workerData: { script: new URL('../../fixtures/ring-producer.ts', import.meta.url).href, ring: memory, shared: shared.buffer, count },
  });
  const finished = new Promise<{ fullWaits: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let expected = 0;
  let wakes = 0;
  const check = (slot: number, status: number, frame: Buffer): void => {
    assert.is(slot, expected);
    assert.is(status, expected % 17);
    assert.is(frame.readUInt32LE(0), expected);
    assert.is(frame.length, 4 + ((expected * 37) % 300));
    expected++;
  };
  for (;;) {
    consumer.drain(check);
    if (expected === count) break; // waitAsync holds no handle: never sleep with nothing left to come
    const seen = Atomics.load(shared, DOORBELL);
    Atomics.store(shared, SLEEPING, 1);
    if (consumer.pending) {
      Atomics.store(shared, SLEEPING, 0);
      continue;
    }
    const wait = Atomics.waitAsync(shared, DOORBELL, seen, 1000);
    if (wait.async) {
      const outcome = await wait.value;
      if (outcome === 'ok') wakes++;
    }
    Atomics.store(shared, SLEEPING, 0);
  }
  const { fullWaits } = await finished;
  assert.is(expected, count);
  assert.ok(fullWaits > 0, 'the 4 KiB ring filled up at least once');
  assert.ok(wakes > 0 && wakes < count, `${wakes} doorbell wakes for ${count} records`);
  await worker.terminate();
});

test.run();
