import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../../src/index.js';
import { resolveClientOptions, type RetryPolicy } from '../../../src/client/client-options.js';
import { EndpointSet } from '../../../src/client/endpoint-set.js';
import { createLoadBalancer } from '../../../src/client/load-balancer.js';
import type { CallListener } from '../../../src/client/pending-call.js';
import type { PoolConnections } from '../../../src/client/pool-connections.js';
import { RetryBudget } from '../../../src/client/retry-budget.js';
import { runCall } from '../../../src/client/retrying-call.js';
import { Bench } from '../../helpers/bench-server.js';

const test = suite('retrying-call');

/**
 * Runs one Echo call whose attempts fail, in turn, with `failures` (an error thrown by
 * the pool when `thrown`, else a rejected reply), against one endpoint.
 */
async function callFailingWith(
  failures: Array<{ error: RpcError; thrown?: boolean }>,
  retry: RetryPolicy | false,
  idempotent = false,
): Promise<{ error: RpcError; attempts: number }> {
  let attempts = 0;
  const next = (): { error: RpcError; thrown?: boolean } => failures[Math.min(attempts++, failures.length - 1)]!;
  const connections = {
    acquire: () => {
      const failure = next();
      if (failure.thrown) throw failure.error;
      // As a channel does: the error reaches the call's listener later, not within start().
      return { start: (_call: unknown, listener: CallListener) => queueMicrotask(() => listener.onError(failure.error)) };
    },
    retain: () => {},
    release: () => {},
    inBackoff: () => false,
    avoid: () => false,
    record: () => {},
    backoffRemainingMs: () => 0,
    pending: () => 0,
  } as unknown as PoolConnections;
  const endpoints = new EndpointSet(
    connections,
    createLoadBalancer('round_robin', () => 0),
    50,
    '127.0.0.1:1',
    [{ endpoint: { host: '127.0.0.1', port: 1 }, weight: 1 }],
  );
  const options = resolveClientOptions({ retry });
  try {
    await runCall(
      {
        method: Bench.methods.echo,
        body: new Uint8Array(0),
        timeoutMs: 0,
        signal: undefined,
        metadata: undefined,
        onMetadata: undefined,
        gzipAboveBytes: Infinity,
        retry: options.retry,
        idempotent,
        key: undefined,
      },
      { connections, endpoints, budget: new RetryBudget(1, 1000) },
    );
  } catch (err) {
    return { error: err as RpcError, attempts };
  }
  throw new Error('the call succeeded');
}

const quick: RetryPolicy = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 };
const unsent = (): RpcError => new RpcError(Status.UNAVAILABLE, 'cannot connect', { address: '127.0.0.1:1', notRun: 'unsent' });

test('adding the call site to a pool error keeps its notRun', async () => {
  const { error, attempts } = await callFailingWith([{ error: unsent(), thrown: true }], false);
  assert.is(attempts, 1);
  assert.is(error.service, 'bench.v1.Bench');
  assert.is(error.method, 'Echo');
  assert.is(error.notRun, 'unsent');
});

test('the "after N attempts" error keeps notRun when no attempt may have run', async () => {
  const refused = new RpcError(Status.UNAVAILABLE, 'busy', { service: 'bench.v1.Bench', method: 'Echo', notRun: 'refused' });
  const { error, attempts } = await callFailingWith([{ error: unsent(), thrown: true }, { error: refused }], quick);
  assert.is(attempts, 3, 'not idempotent, yet retried: nothing ran');
  assert.match(error.rawMessage, '(after 3 attempts)');
  assert.is(error.notRun, 'refused');
  assert.is(error.cause, refused);
});

test('the "after N attempts" error drops notRun when an earlier attempt may have run', async () => {
  const lost = new RpcError(Status.UNAVAILABLE, 'connection lost', { service: 'bench.v1.Bench', method: 'Echo' });
  const { error, attempts } = await callFailingWith([{ error: lost }, { error: unsent(), thrown: true }], quick, true);
  assert.is(attempts, 3);
  assert.is((error.cause as RpcError).notRun, 'unsent', 'the last attempt never left');
  assert.is(error.notRun, undefined, 'but the first one may have run');
});

test('a call that may have run is not retried unless idempotent', async () => {
  const lost = new RpcError(Status.UNAVAILABLE, 'connection lost', { service: 'bench.v1.Bench', method: 'Echo' });
  const { error, attempts } = await callFailingWith([{ error: lost }], quick, false);
  assert.is(attempts, 1);
  assert.is(error, lost);
});

test.run();
