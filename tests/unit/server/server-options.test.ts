import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, SERVER_DEFAULTS, createServer } from '../../../src/index.js';
import { resolveServerOptions } from '../../../src/server/server-options.js';

const test = suite('server-options');

test('defaults, and the derived idle limit', () => {
  const o = resolveServerOptions();
  assert.is(o.heartbeatIntervalMs, 5000);
  assert.is(o.heartbeatMissLimit, 3);
  assert.is(o.idleTimeoutMs, 20_000);
  assert.is(o.maxFrameBytes, 16 * 1024 * 1024);
  assert.is(o.callTimeoutMs, 0, 'no server limit unless asked');
  assert.is(o.grpc, true, 'gRPC is served on the same port unless turned off');
  assert.is(o.grpcHealth, true);
  assert.is(o.grpcReflection, true);
  assert.ok(Object.isFrozen(o));
  assert.ok(Object.isFrozen(SERVER_DEFAULTS));
  assert.is(resolveServerOptions({ port: undefined }).port, SERVER_DEFAULTS.port, 'undefined does not hide a default');
});

const bad: Array<[object, RegExp]> = [
  [{ port: 70000 }, /options.port must be an integer port from 0 to 65535 \(got 70000\)/],
  [{ host: '' }, /options.host must be a non-empty string/],
  [{ maxFrameBytes: 0 }, /options.maxFrameBytes must be a positive integer \(got 0\)/],
  [{ maxFrameBytes: 2 ** 33 }, /options.maxFrameBytes must be at most 4294967295/],
  [{ heartbeatIntervalMs: '5s' }, /options.heartbeatIntervalMs must be a positive integer of ms, at most 2147483647 \(about 24.8 days\) \(got "5s"\)/],
  // Past what a Node timer holds, a delay would fire after 1 ms: refused, not misfired.
  [{ writeTimeoutMs: 2 ** 31 }, /options.writeTimeoutMs must be a positive integer of ms, at most 2147483647/],
  [{ callTimeoutMs: -1 }, /options.callTimeoutMs must be a non-negative integer of ms/],
  [
    { callTimeoutMs: 30 * 24 * 3600 * 1000 },
    /options.callTimeoutMs must be a non-negative integer of ms, at most 2147483647 \(about 24.8 days\) \(got 2592000000\)/,
  ],
  [{ heartbeatMissLimit: -1 }, /options.heartbeatMissLimit must be a non-negative integer/],
  [{ maxConcurrentRequestsPerConnection: 1.5 }, /options.maxConcurrentRequestsPerConnection must be a positive integer/],
  [{ maxConcurrentRequests: 0 }, /options.maxConcurrentRequests must be a positive integer/],
  [{ maxWriteBufferBytes: -1 }, /options.maxWriteBufferBytes must be a positive integer/],
  [{ compression: 'brotli' }, /options.compression must be one of "none", "gzip" \(got "brotli"\)/],
  [{ shutdownGraceMs: null }, /options.shutdownGraceMs must be a non-negative integer/],
  [{ grpc: 'yes' }, /options.grpc must be true or false \(got "yes"\)/],
  [{ grpcHealth: 1 }, /options.grpcHealth must be true or false \(got 1\)/],
  [{ grpcReflection: null }, /options.grpcReflection must be true or false/],
  [{ maxframebytes: 1 }, /options.maxframebytes is not a known option \(did you mean maxFrameBytes\?\)/],
];
for (const [options, message] of bad) {
  test(`rejects ${JSON.stringify(options)}`, () => {
    assert.throws(
      () => createServer(options),
      (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && message.test(e.message),
    );
  });
}

test('shutdown() refuses a grace period a timer cannot hold, and the server keeps serving', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0 });
  await server.listen();
  const refused = await server.shutdown({ graceMs: 2 ** 31 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(
    refused instanceof RpcError && refused.code === Status.INVALID_ARGUMENT && /options.graceMs must be a non-negative integer of ms/.test(refused.message),
  );
  assert.ok(server.address !== undefined, 'still listening');
  await server.shutdown({ graceMs: 100 });
});

test.run();
