import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ReactorReserve, RELEASE_AFTER_SAMPLES, RELEASE_BELOW, RESERVE_ABOVE, RESERVE_AFTER_SAMPLES } from '../../../src/worker-lane/reactor-reserve.js';

const test = suite('reactor reserve');

/** A reserve of `workers` threads on `cores` cores, with the releases it announced. */
function reserve(workers: number, cores: number, enabled = true): { r: ReactorReserve; releases: number[] } {
  const releases: number[] = [];
  const r = new ReactorReserve(
    workers,
    enabled,
    () => releases.push(r.activeWorkers),
    () => true,
    cores,
  );
  return { r, releases };
}

/** Feeds `values` as samples 20 ms apart from `from`; returns the time after the last. */
function feed(r: ReactorReserve, values: readonly number[], from = 0): number {
  let at = from;
  for (const u of values) r.observe(u, (at += 20));
  return at;
}

const busy = (n: number) => Array<number>(n).fill(0.9);
const quiet = (n: number) => Array<number>(n).fill(0.05);

test('a busy reactor keeps a core: one worker fewer than the cores run', () => {
  const { r } = reserve(2, 2);
  assert.is(r.activeWorkers, 2);
  feed(r, busy(RESERVE_AFTER_SAMPLES - 1));
  assert.is(r.activeWorkers, 2, 'one busy sample is not enough (a GC, compiling at start)');
  feed(r, busy(1), 100);
  assert.is(r.activeWorkers, 1);
  assert.is(r.stats().state, 'reserved');
  assert.is(r.stats().reservations, 1);

  const eight = reserve(8, 8).r;
  feed(eight, busy(RESERVE_AFTER_SAMPLES));
  assert.is(eight.activeWorkers, 7);
});

test('busy samples must come in a row', () => {
  const { r } = reserve(2, 2);
  for (let i = 0; i < 10; i++) feed(r, [0.9, 0.1]);
  assert.is(r.stats().state, 'shared');
});

test('the core goes back after quiet samples in a row, and the lane is told', () => {
  const { r, releases } = reserve(2, 2);
  let at = feed(r, busy(RESERVE_AFTER_SAMPLES));
  at = feed(r, [...quiet(RELEASE_AFTER_SAMPLES - 1), 0.9, ...quiet(RELEASE_AFTER_SAMPLES - 1)], at);
  assert.is(r.stats().state, 'reserved', 'a busy sample between quiet ones starts the count again');
  assert.equal(releases, []);
  at = feed(r, quiet(1), at);
  assert.is(r.stats().state, 'shared');
  assert.equal(releases, [2], 'told once, with every worker usable again');
  assert.is(r.stats().reservedMs, 20 * (2 * RELEASE_AFTER_SAMPLES), 'from the reserving sample to the releasing one');
});

test('between the thresholds the state holds either way', () => {
  const middle = (RESERVE_ABOVE + RELEASE_BELOW) / 2;
  const { r } = reserve(2, 2);
  feed(r, Array<number>(50).fill(middle));
  assert.is(r.stats().state, 'shared');
  feed(r, busy(RESERVE_AFTER_SAMPLES));
  feed(r, Array<number>(50).fill(middle));
  assert.is(r.stats().state, 'reserved');
});

test('off: when disabled, or when the workers leave the reactor a core anyway', () => {
  for (const { r } of [reserve(2, 2, false), reserve(1, 2), reserve(3, 4)]) {
    const workers = r.activeWorkers;
    feed(r, busy(20));
    assert.is(r.stats().state, 'off');
    assert.is(r.activeWorkers, workers);
  }
  for (const workers of [1, 2]) {
    const single = reserve(workers, 1).r;
    feed(single, busy(20));
    assert.is(single.stats().state, 'off', `one core, ${workers} workers: nothing to keep`);
    assert.is(single.activeWorkers, workers);
  }
});

test('stats count the time reserved so far', () => {
  const { r } = reserve(4, 2);
  feed(r, busy(RESERVE_AFTER_SAMPLES));
  assert.is(r.activeWorkers, 1, 'more workers than cores: cores - 1 run');
  const s = r.stats(20 * RESERVE_AFTER_SAMPLES + 35);
  assert.is(s.reservedMs, 35);
  assert.is(s.reactorUtilization, 0.9);
});

/** Resolves once `predicate` holds; fails after `ms`. */
async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = performance.now() + ms; !predicate(); await new Promise((r) => setTimeout(r, 10))) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

test('sampling this thread: reserves while the lane is busy, pauses and gives the core back once it is idle, ends with stop()', async () => {
  let laneBusy = true;
  let rechecks = 0;
  const r = new ReactorReserve(
    2,
    true,
    () => rechecks++,
    () => laneBusy,
    2,
  );
  // This thread busy 15 ms of every 20, as a reactor under a flood of inline calls.
  const busyLoop = setInterval(() => {
    for (const end = performance.now() + 15; performance.now() < end; );
  }, 20);
  try {
    r.start();
    await until(() => r.stats().state === 'reserved', 3000, 'the reserve');
    assert.ok(r.stats().reactorUtilization >= RESERVE_ABOVE, String(r.stats().reactorUtilization));
    const before = rechecks;
    await until(() => rechecks > before + 2, 1000, 'rechecks while reserved (a batch may have turned slow)');
    laneBusy = false;
    await until(() => r.stats().state === 'shared', 4000, 'the pause of an idle lane');
    assert.is(r.stats().reactorUtilization, 0, 'no stale figure once sampling paused');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(r.stats().state, 'shared', 'paused: the busy thread reserves nothing');
    laneBusy = true;
    r.wake();
    await until(() => r.stats().state === 'reserved', 3000, 'the reserve after wake()');
    r.stop();
    const stopped = r.stats();
    assert.is(stopped.state, 'off', 'stop() ends the reserve for good');
    assert.is(stopped.reservations, 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(r.stats().reservedMs, stopped.reservedMs, 'no time counted after stop()');
    r.wake();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(r.stats().state, 'off', 'no sampling after stop(), even when a call comes');
  } finally {
    clearInterval(busyLoop);
    r.stop();
  }
});

test.run();
