import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runLoad } from '../../../src/bench/load-generator.js';
import { RpcError, Status } from '../../../src/index.js';

const test = suite('load-generator');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call of ~1 ms that stalls 200 ms once, 300 ms into the run. */
function stallingCall() {
  const started = performance.now();
  let stalled = false;
  return async () => {
    if (!stalled && performance.now() - started > 300) {
      stalled = true;
      await sleep(200);
    } else {
      await sleep(1);
    }
  };
}

test('counts add up; errors are counted by status name', async () => {
  let i = 0;
  const { result } = await runLoad(
    async () => {
      if (++i % 4 === 0) throw new RpcError(Status.RESOURCE_EXHAUSTED, 'busy');
    },
    { concurrency: 4, requests: 400 },
  );
  assert.is(result.requests, 400);
  assert.is(result.ok + Object.values(result.errors).reduce((a, b) => a + b, 0), result.requests);
  assert.equal(Object.keys(result.errors), ['RESOURCE_EXHAUSTED']);
  assert.ok(result.errors['RESOURCE_EXHAUSTED']! >= 95 && result.errors['RESOURCE_EXHAUSTED']! <= 105);
});

test('open loop holds its rate and measures from the due time: a stall shows in the latencies', async () => {
  const open = await runLoad(stallingCall(), { concurrency: 1, rate: 200, durationMs: 1000 });
  assert.ok(Math.abs(open.result.rps - 200) / 200 < 0.15, `open loop ran at ${open.result.rps.toFixed(0)} req/s for 200`);
  // ~40 calls were due during the 200 ms stall: each waited, and that wait is latency.
  assert.ok(open.result.latencyUs.p90 >= 20_000, `p90 ${open.result.latencyUs.p90} µs includes the stall`);
  const closed = await runLoad(stallingCall(), { concurrency: 1, durationMs: 1000 });
  // The closed loop only saw one slow call: the stall is hidden (coordinated omission).
  assert.ok(closed.result.latencyUs.p90 < 20_000, `closed loop p90 ${closed.result.latencyUs.p90} µs`);
});

test('the timeline covers the run and the histogram holds every call', async () => {
  const run = await runLoad(() => sleep(2), { concurrency: 8, durationMs: 600, timelineIntervalMs: 100 });
  assert.ok(run.timeline.length >= 5 && run.timeline.length <= 7, `${run.timeline.length} points`);
  // A point may hold no calls when the event loop stalls (a loaded machine): that is data, not an error.
  assert.ok(run.timeline.filter((p) => p.rps > 0).length >= 4, 'most points hold calls');
  assert.ok(run.timeline.every((p) => p.rps >= 0 && p.p99Us >= p.p50Us));
  assert.is(
    run.histogram.reduce((n, b) => n + b.count, 0),
    run.result.requests,
  );
  assert.ok(run.histogram.every((b) => b.toUs > b.fromUs));
});

test('latencies below and above 16 ms (counted per µs, and straight into HDR) both reach percentiles, timeline and histogram', async () => {
  let i = 0;
  const run = await runLoad(() => sleep(++i % 2 === 0 ? 30 : 2), { concurrency: 1, requests: 40, timelineIntervalMs: 200 });
  const { latencyUs, requests } = run.result;
  assert.is(requests, 40);
  assert.ok(latencyUs.min >= 1000 && latencyUs.min < 16_384, `min ${latencyUs.min} µs`);
  assert.ok(latencyUs.p50 < 16_384, `p50 ${latencyUs.p50} µs: the short half`); // 20 of 40 calls are short
  assert.ok(latencyUs.p90 >= 30_000 && latencyUs.max >= 30_000, `p90 ${latencyUs.p90}, max ${latencyUs.max} µs`);
  assert.ok(latencyUs.mean > 15_000 && latencyUs.mean < 30_000, `mean ${latencyUs.mean} µs`);
  const short = run.histogram.filter((b) => b.toUs <= 16_384).reduce((n, b) => n + b.count, 0);
  const long = run.histogram.filter((b) => b.fromUs >= 16_384).reduce((n, b) => n + b.count, 0);
  assert.equal([short, long], [20, 20]);
  // A timeline point's percentiles include the calls counted per µs (folded before they are read).
  const shortOnly = await runLoad(() => sleep(2), { concurrency: 2, durationMs: 300, timelineIntervalMs: 100 });
  const points = shortOnly.timeline.filter((p) => p.rps > 0);
  assert.ok(points.length > 0 && points.every((p) => p.p50Us >= 1000 && p.p50Us < 16_384), JSON.stringify(points));
});

test('warm-up calls are not counted', async () => {
  let calls = 0;
  const { result } = await runLoad(
    async () => {
      calls++;
      await sleep(1);
    },
    { concurrency: 2, requests: 50, warmupMs: 100 },
  );
  assert.is(result.requests, 50);
  assert.ok(calls > 50, `${calls} calls made, 50 counted`);
});

test.run();
