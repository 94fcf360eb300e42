import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, CLIENT_DEFAULTS, createPool } from '../../../src/index.js';
import { resolveClientOptions } from '../../../src/client/client-options.js';
import { benchClient } from '../../helpers/bench-server.js';

const test = suite('client-options');

test('defaults', () => {
  const o = resolveClientOptions();
  assert.is(o.timeoutMs, CLIENT_DEFAULTS.timeoutMs);
  assert.equal(o.retry, { maxAttempts: 3, backoff: { initialMs: 50, maxMs: 2000, multiplier: 2, jitter: 0.2 }, retryableStatuses: [Status.UNAVAILABLE] });
  assert.equal(o.retryBudget, { ratio: 0.2, minPerSecond: 10 });
  assert.equal(o.pool, {
    connectTimeoutMs: 5000,
    maxFrameBytes: 16 * 1024 * 1024,
    maxConcurrentRequestsPerConnection: 32_768,
    keepalive: true,
    heartbeatIntervalMs: 5000,
    heartbeatMissLimit: 3,
    tls: undefined,
    reconnect: { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2 },
    outlierDetection: { consecutiveFailures: 5, baseEjectionMs: 1000, maxEjectionMs: 30_000 },
    enabled: true,
    connectionsPerEndpoint: 1,
    maxIdleMs: 300_000,
  });
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.pool) && Object.isFrozen(o.retry));
});

test('a method policy merges over the client policy; false turns retries off', () => {
  const o = resolveClientOptions({
    retry: { maxAttempts: 5, retryableStatuses: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'] },
    methods: { Echo: { retry: { initialBackoffMs: 7 } }, work: { retry: false, idempotent: true } },
  });
  assert.is(o.methods.Echo!.retry.maxAttempts, 5);
  assert.is(o.methods.Echo!.retry.backoff.initialMs, 7);
  assert.equal(o.methods.Echo!.retry.retryableStatuses, [Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED]);
  assert.is(o.methods.work!.retry.maxAttempts, 1);
  assert.is(o.methods.work!.idempotent, true);
});

test('a shared pool owns the connection settings', () => {
  const pool = createPool({ connectTimeoutMs: 100 });
  assert.throws(
    () => benchClient('127.0.0.1:7401', { pool, connectTimeoutMs: 5 }),
    /options.connectTimeoutMs cannot be set on a client that uses a shared pool/,
  );
  const client = benchClient('127.0.0.1:7401', { pool });
  assert.is(client.$pool, pool);
  assert.is(client.$options.pool, undefined);
  void pool.close();
});

const bad: Array<[object | string, RegExp]> = [
  [{ timeoutMs: 0 }, /options.timeoutMs must be a positive integer of ms, at most 2147483647 \(about 24.8 days\) \(got 0\)/],
  [{ timeoutMs: 3_000_000_000 }, /options.timeoutMs must be a positive integer of ms, at most 2147483647/],
  [{ methods: { Echo: { timeoutMs: 2 ** 31 } } }, /options.methods.Echo.timeoutMs must be a positive integer of ms, at most 2147483647/],
  [{ pool: { maxIdleMs: 2 ** 40 } }, /options.pool.maxIdleMs must be a non-negative integer of ms, at most 2147483647/],
  [{ connectTimeoutMs: -1 }, /options.connectTimeoutMs must be a positive integer/],
  [{ maxFrameBytes: 'big' }, /options.maxFrameBytes must be a positive integer \(got "big"\)/],
  [{ maxConcurrentRequestsPerConnection: 0 }, /options.maxConcurrentRequestsPerConnection must be a positive integer/],
  [{ compression: 'zstd' }, /options.compression must be one of "none", "gzip"/],
  [{ compressionThresholdBytes: -5 }, /options.compressionThresholdBytes must be a non-negative integer/],
  [{ timeout: 5 }, /options.timeout is not a known option/],
  [{ heartbeatIntervalMs: 0 }, /options.heartbeatIntervalMs must be a positive integer/],
  [{ keepalive: 'yes' }, /options.keepalive must be true or false/],
  [{ tls: 'on' }, /options.tls must be an object of tls.connect options/],
  [{ reconnect: { maxMs: 10, initialMs: 100 } }, /options.reconnect.maxMs must be at least initialMs \(100\)/],
  [{ reconnect: { jitter: 2 } }, /options.reconnect.jitter must be a number from 0 to 1/],
  [{ pool: { connectionsPerEndpoint: 0 } }, /options.pool.connectionsPerEndpoint must be a positive integer/],
  [{ pool: { size: 2 } }, /options.pool.size is not a known option/],
  [{ retry: { maxAttempts: 0 } }, /options.retry.maxAttempts must be a positive integer/],
  [{ retry: { retryableStatuses: ['NOPE'] } }, /options.retry.retryableStatuses must be status names or numbers other than OK \(got "NOPE"\)/],
  [{ retry: { backoffMultiplier: 0.5 } }, /options.retry.backoffMultiplier must be a number of at least 1/],
  [{ retryBudget: { ratio: -1 } }, /options.retryBudget.ratio must be a non-negative number/],
  [{ methods: { Nope: {} } }, /options.methods.Nope names no method of bench.v1.Bench/],
  [{ methods: { Echo: { idempotent: 1 } } }, /options.methods.Echo.idempotent must be true or false/],
  ['127.0.0.1:1,nohost', /invalid address "nohost"/],
];
for (const [options, message] of bad) {
  test(`rejects ${JSON.stringify(options)}`, () => {
    const create = typeof options === 'string' ? () => benchClient(options) : () => benchClient('127.0.0.1:7401', options as never);
    assert.throws(create, (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && message.test(e.message));
  });
}

test.run();
