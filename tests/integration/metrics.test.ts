import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { serveMetrics, RpcError, Status } from '../../src/index.js';
import { benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { spawnServe, waitForOutput } from '../helpers/child.js';
import { until } from '../helpers/tcp.js';

const test = suite('metrics and status page');

async function scrape(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  const get = (name: string) => families.find((f) => f.name === name);
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const sample = get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return Number(sample?.value ?? NaN);
  };
  return { text, families, get, value };
}

test('/metrics parses as Prometheus text and its counters move with traffic', async () => {
  const { server, address } = await startBenchServer(
    {},
    {
      ...handlers,
      sleep: () => {
        throw new RpcError(Status.NOT_FOUND, 'nope');
      },
    },
  );
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const before = await scrape(metrics.port);
  assert.is(before.value('ringrpc_method_requests_total', { method: 'bench.v1.Bench/Echo' }), 0);
  assert.is(before.get('ringrpc_method_duration_seconds')!.type, 'HISTOGRAM');

  const client = benchClient(address);
  await Promise.all(Array.from({ length: 25 }, () => client.echo({ payload: Buffer.alloc(100) })));
  await Promise.all(Array.from({ length: 3 }, () => client.sleep({ ms: 1 }).catch(() => {})));
  const after = await scrape(metrics.port);
  assert.is(after.value('ringrpc_method_requests_total', { method: 'bench.v1.Bench/Echo' }), 25);
  assert.is(after.value('ringrpc_method_responses_total', { method: 'bench.v1.Bench/Echo', status: 'OK' }), 25);
  assert.is(after.value('ringrpc_method_responses_total', { method: 'bench.v1.Bench/Sleep', status: 'NOT_FOUND' }), 3);
  assert.is(after.value('ringrpc_connections_open'), 1);
  assert.ok(after.value('ringrpc_received_bytes_total') > 2500);
  assert.ok(after.value('ringrpc_sent_bytes_total') > before.value('ringrpc_sent_bytes_total'));
  // The parser flattens labelled histograms into one, so the series is read from the text.
  const series = after.text.split('\n').filter((l) => l.startsWith('ringrpc_method_duration_seconds') && l.includes('method="bench.v1.Bench/Echo"'));
  const buckets = series.filter((l) => l.includes('_bucket')).map((l) => [/le="([^"]+)"/.exec(l)![1]!, Number(l.split(' ').pop())] as const);
  assert.is(buckets.length, 17);
  assert.equal(buckets[buckets.length - 1], ['+Inf', 25]);
  assert.ok(
    buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1]![1]),
    'cumulative counts never fall',
  );
  assert.ok(
    buckets.slice(0, -1).every(([le], i) => i === 0 || Number(le) > Number(buckets[i - 1]![0])),
    'bounds ascend',
  );
  assert.match(
    series.join('\n'),
    /_bucket\{[^}]*le="\+Inf"\} 25\nringrpc_method_duration_seconds_sum\{method="bench.v1.Bench\/Echo"\} [\d.e-]+\nringrpc_method_duration_seconds_count\{method="bench.v1.Bench\/Echo"\} 25/,
  );

  await client.$close();
  await metrics.close();
  await server.close();
});

test('the status page shows the server, its connections and per-method numbers; /stats.json is server.stats()', async () => {
  const { server, address } = await startBenchServer();
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const client = benchClient(address);
  for (let i = 0; i < 7; i++) await client.echo({});
  const page = await (await fetch(`http://127.0.0.1:${metrics.port}/`)).text();
  assert.match(page, new RegExp(`<h1>ringrpc server 127.0.0.1:${server.address!.port}</h1>`));
  assert.match(page, /<meta http-equiv="refresh" content="2">/);
  assert.match(page, /<tr><th>open<\/th><td>1<\/td><\/tr>/);
  assert.match(page, /<tr><td>bench.v1.Bench\/Echo<\/td><td>7<\/td><td>7<\/td><td>–<\/td><td>0<\/td>/);
  assert.not.match(page, /<script/);
  const json = (await (await fetch(`http://127.0.0.1:${metrics.port}/stats.json`)).json()) as ReturnType<typeof server.stats>;
  assert.is(json.methods['bench.v1.Bench/Echo']!.ok, 7);
  assert.is(json.methods['bench.v1.Bench/Echo']!.latency.count, 7);
  assert.is((await fetch(`http://127.0.0.1:${metrics.port}/nope`)).status, 404);
  await client.$close();
  await metrics.close();
  await server.close();
});

test('ringrpc serve --metrics-port serves the worker lane too', async () => {
  // The compiled handlers: its worker loads them without tsx, as a served package would.
  const child = spawnServe(['--metrics-port', '0', '--workers', '1', '--worker-methods', 'Work'], {}, 'dist/examples/bench/handlers.js');
  const [, host, port] = await waitForOutput(child, /ringrpc listening on ([\d.]+):(\d+)/);
  const [, metricsPort] = await waitForOutput(child, /ringrpc metrics on http:\/\/[\d.]+:(\d+)\/metrics/);
  // 40 calls start at once and queue for one thread: each call's deadline has to cover
  // the whole batch, 250 ms a call (about 5 ms each on an idle machine).
  const calls = 40;
  const client = benchClient(`${host}:${port}`, { timeoutMs: calls * 250 });
  try {
    await Promise.all(Array.from({ length: calls }, () => client.work({ payload: Buffer.from('x'), rounds: 2000 })));
    const { value, text } = await scrape(Number(metricsPort));
    assert.is(value('ringrpc_worker_threads'), 1);
    assert.is(value('ringrpc_worker_completed_total'), 40);
    // Wait and run time: every request waited, and 40 calls on one thread queue behind each other.
    assert.match(text, /\nringrpc_worker_wait_seconds_count 40\n/);
    const waitSum = Number(/\nringrpc_worker_wait_seconds_sum ([\d.e-]+)\n/.exec(text)![1]);
    assert.ok(waitSum > 0, `wait sum ${waitSum}`);
    assert.ok(value('ringrpc_worker_run_seconds_mean') > 0, 'mean run time is known');
    // One worker leaves the reactor a core already: the reserve is off, the one thread always runs.
    assert.is(value('ringrpc_worker_active_threads'), 1);
    assert.is(value('ringrpc_worker_reactor_reservations_total'), 0);
    const reactorBusy = value('ringrpc_reactor_utilization_ratio');
    assert.ok(reactorBusy >= 0 && reactorBusy <= 1, `reactor utilisation ${reactorBusy}`);
    const page = await (await fetch(`http://127.0.0.1:${metricsPort}/`)).text();
    assert.match(page, /<tr><th>queue wait<\/th><td>mean [\d.]+ (µs|ms), p50 ≤ /);
    assert.match(page, /<tr><th>run time per request<\/th><td>mean [\d.]+ (µs|ms)<\/td><\/tr>/);
    assert.match(page, /<tr><th>threads running batches<\/th><td>1; reactor busy [\d.]+ %; kept 0× for 0 s in all<\/td><\/tr>/);
  } finally {
    await client.$close();
    child.process.kill('SIGTERM');
  }
  assert.is(await child.exited, 0);
});

test("the server measures each connection's keepalive RTT with its own PINGs; PONGs do not hold off idle eviction", async () => {
  // A PING every 50 ms, an idle limit of 1 s: the RTT is in long before the eviction.
  const { server, address } = await startBenchServer({ heartbeatIntervalMs: 50, heartbeatMissLimit: 19 });
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const client = benchClient(address, { keepalive: false });
  try {
    const started = Date.now();
    await client.echo({});
    await until(() => server.connectionStats()[0]?.rttMs !== undefined, 10_000, "the server's first PING to be answered");
    const [connection] = server.connectionStats();
    // In ms: no longer than the whole wait (a loaded machine can stretch a loopback round trip).
    assert.ok(connection!.rttMs! >= 0 && connection!.rttMs! <= Date.now() - started, `rtt ${connection!.rttMs}`);
    assert.ok(connection!.bytesIn > 16 && connection!.bytesOut > 16);
    assert.ok(server.stats().connections.keepaliveRtt.count >= 1);
    // The parser flattens histograms, so the count is read from the text.
    const { text } = await scrape(metrics.port);
    assert.match(text, /\nringrpc_keepalive_rtt_seconds_count [1-9]\d*\n/);
    const page = await (await fetch(`http://127.0.0.1:${metrics.port}/`)).text();
    assert.match(page, /<tr><td>127\.0\.0\.1:\d+<\/td><td>\d+ s<\/td><td>0<\/td><td>\d+<\/td><td>\d+<\/td><td>[\d.]+ (µs|ms)<\/td><\/tr>/);
    // The client answers the server's PINGs but sends nothing itself: it is still idle.
    await until(() => server.stats().connections.idleClosed === 1, 10_000, 'the client, answering PINGs only, to be evicted as idle');
  } finally {
    await client.$close();
    await metrics.close();
    await server.close();
  }
});

test.run();
