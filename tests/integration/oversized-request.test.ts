import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RpcError, Status } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';

const test = suite('oversized request');

test('one request over maxFrameBytes among 64 in flight: only it fails, RESOURCE_EXHAUSTED, not sent, naming the limit', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { timeoutMs: 10_000, retry: false });
  const others = Array.from({ length: 64 }, (_, i) => client.sleep({ ms: 20 + (i % 5) }));
  const big = client.echo({ payload: Buffer.alloc(17 * 1024 * 1024) }).then(
    () => assert.unreachable('it cannot be sent') as never,
    (e: RpcError) => e,
  );
  const err = await big;
  assert.is(err.code, Status.RESOURCE_EXHAUSTED);
  assert.is(err.notRun, 'unsent');
  assert.match(err.message, /request of \d+ bytes is larger than maxFrameBytes \(16777216\); not sent/);
  await Promise.all(others); // every other call on the connection succeeds
  assert.is(server.stats().connections.oversizedClosed, 0, 'the server never saw it');
  // Metadata counts too: a body just under the limit with large metadata is refused alike.
  const small = benchClient(address, { maxFrameBytes: 1024, retry: false });
  const withMetadata = await small.echo({ payload: Buffer.alloc(900) }, { metadata: { big: 'x'.repeat(200) } }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(withMetadata?.code, Status.RESOURCE_EXHAUSTED);
  await Promise.all([client.$close(), small.$close()]);
  await server.close();
});

test.run();
