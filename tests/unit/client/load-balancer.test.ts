import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLoadBalancer, hash32, type Pickable } from '../../../src/client/load-balancer.js';

const test = suite('load balancers');

function instances(n: number, weights: number[] = []): Pickable[] {
  return Array.from({ length: n }, (_, i) => ({ endpoint: { host: '10.0.0.1', port: 7000 + i }, address: `10.0.0.1:${7000 + i}`, weight: weights[i] ?? 100 }));
}

/** A seeded PRNG (mulberry32), so that distribution checks are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tally(pick: () => Pickable | undefined, times: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const p = pick()!;
    counts.set(p.address, (counts.get(p.address) ?? 0) + 1);
  }
  return counts;
}

const all = (): boolean => true;

test('round_robin: each instance in turn, exactly; unusable ones skipped', () => {
  const lb = createLoadBalancer('round_robin', () => 0);
  const list = instances(4);
  lb.update(list);
  assert.equal([...tally(() => lb.pick(all, undefined), 4000).values()], [1000, 1000, 1000, 1000]);
  const seen = Array.from({ length: 6 }, () => lb.pick((p) => p.address !== list[1]!.address, undefined)!.endpoint.port);
  assert.not.ok(seen.includes(7001));
  assert.is(
    lb.pick(() => false, undefined),
    undefined,
  );
});

test('random: uniform within 5% over 40,000 picks', () => {
  const lb = createLoadBalancer('random', () => 0, seeded(1));
  lb.update(instances(4));
  for (const n of tally(() => lb.pick(all, undefined), 40_000).values()) assert.ok(Math.abs(n - 10_000) < 500, `${n}`);
});

test('weighted_random: in proportion to weight within 5%', () => {
  const lb = createLoadBalancer('weighted_random', () => 0, seeded(2));
  lb.update(instances(3, [100, 200, 700]));
  const counts = [...tally(() => lb.pick(all, undefined), 50_000).values()];
  const expected = [5000, 10_000, 35_000];
  counts.sort((a, b) => a - b);
  for (const [i, n] of counts.entries()) assert.ok(Math.abs(n - expected[i]!) < expected[i]! * 0.05, `${counts} vs ${expected}`);
});

test('least_outstanding: of two random picks the less busy, so the busiest is never chosen', () => {
  const list = instances(4);
  const load = new Map([
    [list[0]!.address, 50],
    [list[1]!.address, 0],
    [list[2]!.address, 1],
    [list[3]!.address, 2],
  ]);
  const lb = createLoadBalancer('least_outstanding', (p) => load.get(p.address)!, seeded(3));
  lb.update(list);
  const counts = tally(() => lb.pick(all, undefined), 12_000);
  assert.is(counts.get(list[0]!.address), undefined, 'the busiest instance loses every comparison');
  // The 6 pairs are equally likely and each goes to its less busy member: loads 0, 1, 2 win 3, 2 and 1 of them.
  assert.ok(Math.abs(counts.get(list[1]!.address)! - 6000) < 400, `${[...counts.values()]}`);
  assert.ok(Math.abs(counts.get(list[3]!.address)! - 2000) < 300, `${[...counts.values()]}`);
  assert.is(
    lb.pick((p) => p === list[0], undefined),
    list[0],
    'one usable instance is picked whatever its load',
  );
});

test('consistent_hash: a key sticks to one instance; removing one instance moves only its keys', () => {
  const lb = createLoadBalancer('consistent_hash', () => 0);
  const list = instances(5);
  lb.update(list);
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const before = new Map(keys.map((k) => [k, lb.pick(all, k)!.address]));
  for (const k of keys.slice(0, 100)) assert.is(lb.pick(all, k)!.address, before.get(k), 'the same key, the same instance');
  const share = new Map<string, number>();
  for (const a of before.values()) share.set(a, (share.get(a) ?? 0) + 1);
  for (const n of share.values()) assert.ok(n > 1400 && n < 2600, `spread over the ring: ${[...share.values()]}`);

  const removed = list[2]!.address;
  lb.update(list.filter((p) => p.address !== removed));
  let moved = 0;
  for (const k of keys) {
    const now = lb.pick(all, k)!.address;
    assert.is.not(now, removed);
    if (before.get(k) !== removed) assert.is(now, before.get(k), `${k} moved although its instance stayed`);
    else moved++;
  }
  assert.is(moved, share.get(removed));

  // An unusable (ejected) instance's keys go to the next one and come back after.
  lb.update(list);
  const k = keys.find((x) => before.get(x) === list[0]!.address)!;
  assert.is.not(lb.pick((p) => p !== list[0], k)!.address, list[0]!.address);
  assert.is(lb.pick(all, k)!.address, list[0]!.address);
});

test('hash32 spreads similar strings', () => {
  const buckets = new Array<number>(16).fill(0);
  for (let i = 0; i < 16_000; i++) buckets[hash32(`10.0.0.1:7000#${i}`) >>> 28]!++;
  for (const n of buckets) assert.ok(n > 800 && n < 1200, `${buckets}`);
});

test.run();
