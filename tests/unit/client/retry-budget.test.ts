import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RetryBudget } from '../../../src/client/retry-budget.js';

const test = suite('retry-budget');

test('allows minPerSecond × 10 retries with no calls, then ratio × calls more', () => {
  let now = 1_000_000;
  const budget = new RetryBudget(0.1, 1);
  let allowed = 0;
  while (budget.tryRetry(now)) allowed++;
  assert.is(allowed, 10);
  for (let i = 0; i < 100; i++) budget.recordCall(now);
  allowed = 0;
  while (budget.tryRetry(now)) allowed++;
  assert.is(allowed, 10, '10% of 100 calls');
  now += 1000;
  assert.not.ok(budget.tryRetry(now), 'one second later the window still holds the spent retries');
});

test('the window slides: ten seconds later the budget is back', () => {
  let now = 5_000_000;
  const budget = new RetryBudget(0, 2);
  let n = 0;
  while (budget.tryRetry(now)) n++;
  assert.is(n, 20);
  now += 10_000;
  n = 0;
  while (budget.tryRetry(now)) n++;
  assert.is(n, 20);
});

test('a zero budget never retries', () => {
  const now = Date.now();
  const budget = new RetryBudget(0, 0);
  for (let i = 0; i < 50; i++) budget.recordCall(now);
  assert.not.ok(budget.tryRetry(now));
});

test.run();
