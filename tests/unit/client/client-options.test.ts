import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, CLIENT_DEFAULTS } from '../../../src/index.js';
import { resolveClientOptions } from '../../../src/client/client-options.js';
import { benchClient } from '../../helpers/bench-server.js';

const test = suite('client-options');

test('defaults', () => {
  const o = resolveClientOptions();
  assert.is(o.timeoutMs, 3000);
  assert.equal({ ...o }, { ...CLIENT_DEFAULTS });
});

const bad: Array<[object, RegExp]> = [
  [{ timeoutMs: 0 }, /options.timeoutMs must be a positive integer \(got 0\)/],
  [{ connectTimeoutMs: -1 }, /options.connectTimeoutMs must be a positive integer/],
  [{ maxFrameBytes: 'big' }, /options.maxFrameBytes must be a positive integer \(got "big"\)/],
  [{ maxConcurrentRequestsPerConnection: 0 }, /options.maxConcurrentRequestsPerConnection must be a positive integer/],
  [{ compression: 'zstd' }, /options.compression must be one of "none", "gzip"/],
  [{ compressionThresholdBytes: -5 }, /options.compressionThresholdBytes must be a non-negative integer/],
  [{ timeout: 5 }, /options.timeout is not a known option/],
];
for (const [options, message] of bad) {
  test(`rejects ${JSON.stringify(options)}`, () => {
    assert.throws(() => benchClient('127.0.0.1:7401', options as never), (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && message.test(e.message));
  });
}

test.run();
