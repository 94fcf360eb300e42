import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { allocateRing, RingConsumer, RingProducer, SHARED_CONTROL_BYTES } from '../../../src/worker-lane/response-ring.js';
import { RECORD_MESSAGE, RECORD_PIECE, StreamRecordWriter } from '../../../src/worker-lane/stream-records.js';

const test = suite('stream-records');

function setup(bytes: number) {
  const memory = allocateRing(bytes);
  const shared = new Int32Array(new SharedArrayBuffer(SHARED_CONTROL_BYTES));
  const producer = new RingProducer(memory, shared);
  return { producer, consumer: new RingConsumer(memory), writer: new StreamRecordWriter(producer) };
}

function drain(consumer: RingConsumer): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  consumer.drain((slot, status, frame) => out.push([slot, status, Buffer.from(frame).toString()]));
  return out;
}

test('tryWrite puts a record in the ring at once, with nothing queued and room for it', () => {
  const { consumer, writer } = setup(4096);
  const view = Buffer.from('reply-1');
  assert.ok(writer.tryWrite(3, RECORD_MESSAGE, [view]));
  view.write('XXXXXXX'); // the ring has its own copy: a borrowed view may be reused at once
  assert.equal(drain(consumer), [[3, RECORD_MESSAGE, 'reply-1']]);
});

test('a full ring: tryWrite writes nothing; a queued write keeps later records behind it until it lands', async () => {
  const { consumer, writer } = setup(1024); // records up to 256 bytes
  const record = (n: number): Buffer => Buffer.from(`${n}`.padEnd(200, '.'));
  let n = 0;
  while (writer.tryWrite(1, RECORD_MESSAGE, [record(n)])) n++;
  assert.ok(n >= 2 && n <= 5, `${n} records fit`);
  const queued = writer.write(1, RECORD_MESSAGE, [record(n)]);
  // Room comes back, but the queued record is still waiting for the ring's wake-up: a record
  // written now would overtake it.
  const first = drain(consumer);
  assert.is(first.length, n);
  assert.not.ok(writer.tryWrite(1, RECORD_MESSAGE, [record(n + 1)]), 'nothing overtakes a queued record');
  await queued;
  assert.ok(writer.tryWrite(1, RECORD_MESSAGE, [record(n + 1)]), 'once it landed, the fast path is back');
  const rest = drain(consumer).map(([, , text]) => Number.parseInt(text, 10));
  assert.equal(rest, [n, n + 1]);
});

test('a record over a quarter of the ring is not tryWritten: write() cuts it into pieces', async () => {
  const { consumer, writer } = setup(1024);
  const big = Buffer.alloc(600, 'b');
  assert.not.ok(writer.tryWrite(2, RECORD_MESSAGE, [big]));
  assert.equal(drain(consumer), [], 'nothing written');
  const written = writer.write(2, RECORD_MESSAGE, [big]);
  const got: Array<[number, number]> = [];
  while (got.length === 0 || got[got.length - 1]![0] !== RECORD_MESSAGE) {
    for (const [, status, text] of drain(consumer)) got.push([status, text.length]);
    await new Promise((r) => setImmediate(r));
  }
  await written;
  assert.ok(
    got.slice(0, -1).every(([status]) => status === RECORD_PIECE),
    'pieces, then the record that ends it',
  );
  assert.is(
    got.reduce((sum, [, length]) => sum + length, 0),
    600,
  );
});

test.run();
