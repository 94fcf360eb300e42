import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, resolveBackoff } from '../../../src/util/backoff.js';

const test = suite('backoff');
const options = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.2 };

test('grows by the multiplier and stops at the cap', () => {
  const mid = () => 0.5; // no jitter
  assert.equal(
    [1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(options, n, mid)),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
});

test('jitter spreads each delay within ±jitter and never past the cap', () => {
  assert.is(
    backoffDelay(options, 2, () => 0),
    160,
  );
  assert.is(
    backoffDelay(options, 2, () => 0.999999),
    240,
  );
  assert.is(
    backoffDelay(options, 10, () => 0.999999),
    1000,
  );
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(backoffDelay(options, 3));
  assert.ok(seen.size > 20, 'random jitter gives different delays');
  for (const d of seen) assert.ok(d >= 320 && d <= 480, `${d} within 400 ± 20%`);
});

test('options are validated with the field named', () => {
  assert.throws(() => resolveBackoff('reconnect', { multiplier: 0.5 }, options), /options.reconnect.multiplier must be a number of at least 1/);
  assert.throws(() => resolveBackoff('reconnect', { initialMs: -1 }, options), /options.reconnect.initialMs must be a non-negative integer/);
  assert.throws(() => resolveBackoff('reconnect', { capMs: 5 }, options), /options.reconnect.capMs is not a known option/);
  assert.equal(resolveBackoff('reconnect', { maxMs: 5000 }, options), { ...options, maxMs: 5000 });
});

test.run();
