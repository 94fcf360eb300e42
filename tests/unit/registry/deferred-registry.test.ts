import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, StaticRegistry, type Registry, type ServiceInstance } from '../../../src/index.js';
import { DeferredRegistry } from '../../../src/registry/deferred-registry.js';

const test = suite('deferred-registry');

const instance = { service: 'a.B', host: '127.0.0.1', port: 7001 };

test('loads the backend on first use, once, and forwards to it', async () => {
  let loads = 0;
  const backend = new StaticRegistry();
  const registry = new DeferredRegistry('static://', async () => {
    loads++;
    return backend;
  });
  assert.is(loads, 0, 'opening loads nothing');
  const lists: Array<readonly ServiceInstance[]> = [];
  const stop = registry.watch('a.B', (list) => lists.push(list));
  await registry.register(instance);
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(loads, 1);
  assert.is(lists.at(-1)?.length, 1, 'the watcher sees the instance registered through the same backend');
  stop();
  await registry.deregister(instance);
  await registry.close();
});

test('a backend that fails to load fails register and reaches onError', async () => {
  const failure = new RpcError(Status.FAILED_PRECONDITION, 'no backend');
  const registry = new DeferredRegistry('x://', () => Promise.reject(failure));
  try {
    await registry.register(instance);
    assert.unreachable('register succeeded');
  } catch (err) {
    assert.is(err, failure);
  }
  const reported = await new Promise<RpcError>((resolve) => registry.watch('a.B', () => {}, resolve));
  assert.is(reported, failure);
  await registry.close();
});

test('closed before use: never loads, and refuses new calls FAILED_PRECONDITION', async () => {
  let loads = 0;
  const registry = new DeferredRegistry('x://', async (): Promise<Registry> => {
    loads++;
    return new StaticRegistry();
  });
  await registry.close();
  assert.is(loads, 0);
  assert.throws(
    () => registry.watch('a.B', () => {}),
    (e: RpcError) => e.code === Status.FAILED_PRECONDITION && /closed/.test(e.message),
  );
  try {
    await registry.register(instance);
    assert.unreachable('register succeeded');
  } catch (err) {
    assert.is((err as RpcError).code, Status.FAILED_PRECONDITION);
  }
});

test.run();
