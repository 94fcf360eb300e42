import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../../src/index.js';
import { openRegistryWith } from '../../../src/registry/registry-uri.js';
import { loadZooKeeper } from '../../../src/registry/zookeeper-package.js';
import type { RegistryClientFactory } from '../../../src/registry/ringrpc-registry.js';

const test = suite('zookeeper-package');

const MISSING = 'ringrpc-test-no-such-package';
const noClient: RegistryClientFactory = () => {
  throw new Error('zk:// makes no client');
};

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err as RpcError;
  }
  throw new Error('it resolved');
}

test('a missing package is FAILED_PRECONDITION naming the package and the fix', async () => {
  const error = await rejection(loadZooKeeper(MISSING));
  assert.is(error.code, Status.FAILED_PRECONDITION);
  assert.is(error.rawMessage, `zk:// registries need the optional peer dependency "${MISSING}": npm install ${MISSING}`);
  assert.ok(error.cause instanceof Error, 'the loader error is the cause');
});

test('the installed package loads as the client class (skipped when it is not installed)', async () => {
  let ZooKeeper: unknown;
  try {
    ZooKeeper = await loadZooKeeper();
  } catch (err) {
    if ((err as RpcError).rawMessage.endsWith('npm install zookeeper')) return;
    throw err;
  }
  assert.type(ZooKeeper, 'function');
  assert.is(await loadZooKeeper(), ZooKeeper, 'loaded once');
});

test('a zk:// registry loads nothing when opened, and reports the missing package on use', async () => {
  const registry = openRegistryWith('zk://127.0.0.1:2181/x', {}, { createClient: noClient, zookeeperPackage: MISSING });
  const error = await rejection(registry.register({ service: 'a.B', host: '127.0.0.1', port: 1 }));
  assert.is(error.code, Status.FAILED_PRECONDITION);
  assert.match(error.rawMessage, `npm install ${MISSING}`);
  const watched = await new Promise<RpcError>((resolve) => registry.watch('a.B', () => assert.unreachable('a list'), resolve));
  assert.is(watched, error, 'watchers get the same error');
  await registry.deregister({ service: 'a.B', host: '127.0.0.1', port: 1 });
  await registry.close();
});

test.run();
