import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusyWindow } from '../../../src/worker-lane/busy-window.js';

const test = suite('busy-window');

test('before any earlier reading, the share since start', () => {
  const w = new BusyWindow(10_000);
  w.start(0);
  assert.is(w.read(5000, 2500, 1), 0.5);
});

test('a lane busy at first and idle for the last 10 s reads 0 recently, while the average since start does not', () => {
  const w = new BusyWindow(10_000);
  w.start(0);
  w.read(5000, 2500, 1);
  assert.is(w.read(16_000, 2500, 1), 0, 'nothing ran since the reading at 5 s');
  assert.is(w.read(16_500, 3000, 1), 500 / 11_500, 'from the newest reading at least 10 s old');
});

test('the window slides: readings older than the newest one past the window are let go', () => {
  const w = new BusyWindow(10_000);
  w.start(0);
  for (let t = 2000; t <= 30_000; t += 2000) w.read(t, t / 2, 1);
  // Busy at half the time throughout, then fully busy for the last 2 s.
  assert.is(w.read(32_000, 16_000 + 2000, 1), (18_000 - 11_000) / (32_000 - 22_000));
});

test('a reading less than a second old is no base: the share since start instead', () => {
  const w = new BusyWindow(10_000);
  w.start(0);
  assert.is(w.read(100, 50, 1), 0.5);
  assert.is(w.read(600, 50, 1), 50 / 600);
  assert.is(w.read(1200, 650, 1), 600 / 1100, 'the reading at 100 ms is over a second old now');
});

test('divided among the workers, and kept within 0..1', () => {
  const w = new BusyWindow(10_000);
  w.start(0);
  assert.is(w.read(4000, 4000, 2), 0.5);
  assert.is(w.read(8000, 100_000, 2), 1, 'never above 1');
  assert.is(w.read(12_000, 0, 2), 0, 'never below 0 (a replaced thread takes its busy time with it)');
  assert.is(new BusyWindow().read(1000, 10, 1), 0, 'not started: 0');
});

test.run();
