import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as delay } from 'node:timers/promises';
import { RingProducer } from '../../../src/worker-lane/response-ring.js';
import { ResponseDrain } from '../../../src/worker-lane/response-drain.js';

const test = suite('response-drain');

/** A drain over one ring, with a producer on this thread and a log of what the loop did. */
function setup(lingerMs: () => number) {
  const log: string[] = [];
  const drain = new ResponseDrain(
    1,
    4096,
    (slot) => log.push(`record ${slot}`),
    lingerMs,
    () => log.push('after'),
  );
  const producer = new RingProducer(drain.rings[0]!, new Int32Array(drain.sharedMemory));
  return { drain, producer, log };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(1);
  }
}

test('a sleeping loop is woken by the doorbell and runs afterDrain after the drain', async () => {
  const { drain, producer, log } = setup(() => 0);
  drain.start();
  await delay(20);
  log.length = 0;
  producer.write(7, 0, [Buffer.from('x')]);
  await until(() => log.includes('record 7') && log.at(-1) === 'after', 'the drain');
  assert.equal(log.slice(log.indexOf('record 7')), ['record 7', 'after']);
  drain.stop();
});

test('under a backlog records gather for lingerMs, and the next drain delivers them before afterDrain', async () => {
  const { drain, producer, log } = setup(() => 30);
  drain.start();
  producer.write(1, 0, [Buffer.from('a')]);
  await until(() => log.includes('record 1'), 'the first drain'); // it drained a record: it lingers now
  log.length = 0;
  producer.write(2, 0, [Buffer.from('b')]);
  producer.write(3, 0, [Buffer.from('c')]);
  await delay(5);
  assert.equal(log, [], 'nothing drained while lingering');
  await until(() => log.includes('after'), 'the next drain');
  assert.equal(log.slice(0, 3), ['record 2', 'record 3', 'after'], 'both records in one drain, then afterDrain');
  drain.stop();
});

test('a producer about to wait on its reader urges a lingering loop: it drains at once, not at the end of its linger', async () => {
  const { drain, producer, log } = setup(() => 60_000);
  drain.start();
  producer.write(1, 0, [Buffer.from('a')]);
  await until(() => log.includes('record 1'), 'the first drain'); // it lingers now, for a minute
  log.length = 0;
  producer.write(2, 0, [Buffer.from('b')]);
  await delay(5);
  assert.equal(log, [], 'a record alone does not end a linger');
  producer.urge();
  await until(() => log.includes('record 2'), 'the urged drain');
  drain.stop();
});

test('an urge while the loop drains is not lost: the linger that follows does not wait', async () => {
  const log: string[] = [];
  let urgeOnce = true;
  let producer: RingProducer | undefined;
  const drain = new ResponseDrain(
    1,
    4096,
    (slot) => log.push(`record ${slot}`),
    () => 60_000,
    () => {
      // After the first drain, before the loop lingers: a record, and its producer urges.
      if (!log.includes('record 1') || !urgeOnce) return;
      urgeOnce = false;
      producer!.write(2, 0, [Buffer.from('b')]);
      producer!.urge();
    },
  );
  producer = new RingProducer(drain.rings[0]!, new Int32Array(drain.sharedMemory));
  drain.start();
  producer.write(1, 0, [Buffer.from('a')]);
  await until(() => log.includes('record 2'), 'the record urged before the linger'); // else a minute
  drain.stop();
});

test('wake() makes a sleeping loop run afterDrain at once, without any record', async () => {
  const { drain, log } = setup(() => 0);
  drain.start();
  await delay(20); // asleep now, for up to 1 s
  log.length = 0;
  const woken = Date.now();
  drain.wake();
  await until(() => log.includes('after'), 'afterDrain');
  assert.ok(Date.now() - woken < 500, `afterDrain ${Date.now() - woken} ms after wake(), not at the 1 s timeout`);
  drain.stop();
});

test.run();
