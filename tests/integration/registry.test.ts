import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, openRegistry, RegistryServer, type Registry, type ServiceInstance } from '../../src/index.js';
import { freePort, sleep, until } from '../helpers/tcp.js';
import { haveZooKeeper, zkUri } from '../helpers/zookeeper.js';
import { Bench, benchClient, startBenchServer } from '../helpers/bench-server.js';

const test = suite('registry backends');

/** Follows a service: the lists seen, newest last. */
function follow(registry: Registry, service: string): { lists: ServiceInstance[][]; errors: RpcError[]; stop: () => void; latest: () => string[] } {
  const lists: ServiceInstance[][] = [];
  const errors: RpcError[] = [];
  const stop = registry.watch(
    service,
    (list) => lists.push([...list]),
    (e) => errors.push(e),
  );
  return { lists, errors, stop, latest: () => (lists.at(-1) ?? []).map((i) => `${i.host}:${i.port}`) };
}

/** register → watch sees it (with weight and metadata); deregister → gone; close → gone. */
async function registerWatchDeregister(makeUri: () => Promise<{ uri: string; done: () => Promise<void> }>): Promise<void> {
  const { uri, done } = await makeUri();
  const provider = openRegistry(uri);
  const other = openRegistry(uri);
  const consumer = openRegistry(uri);
  try {
    const watch = follow(consumer, 'test.v1.Svc');
    await until(() => watch.lists.length >= 1, 5000, 'the first (empty) list');
    assert.equal(watch.latest(), []);
    await provider.register({ service: 'test.v1.Svc', host: '127.0.0.1', port: 7001, weight: 250, metadata: { zone: 'a' } });
    await other.register({ service: 'test.v1.Svc', host: '127.0.0.1', port: 7002 });
    await other.register({ service: 'test.v1.Other', host: '127.0.0.1', port: 7003 });
    await until(() => watch.latest().length === 2, 5000, 'both instances');
    assert.equal(watch.latest(), ['127.0.0.1:7001', '127.0.0.1:7002']);
    const first = watch.lists.at(-1)!.find((i) => i.port === 7001)!;
    assert.is(first.weight, 250);
    assert.equal(first.metadata, { zone: 'a' });
    assert.is(watch.lists.at(-1)!.find((i) => i.port === 7002)!.weight, 100, 'the default weight');

    await provider.deregister({ service: 'test.v1.Svc', host: '127.0.0.1', port: 7001 });
    await until(() => watch.latest().length === 1, 5000, 'the deregistered instance to go');
    assert.equal(watch.latest(), ['127.0.0.1:7002']);

    await other.close();
    await until(() => watch.latest().length === 0, 5000, "a closed provider's instances to go");
    watch.stop();
    assert.equal(watch.errors, []);
  } finally {
    await provider.close();
    await other.close();
    await consumer.close();
    await done();
  }
}

test('static://: fixed endpoints for any service, plus instances registered in process', async () => {
  const registry = openRegistry('static://127.0.0.1:9001,127.0.0.1:9002');
  const watch = follow(registry, 'any.Service');
  await until(() => watch.lists.length === 1);
  assert.equal(watch.latest(), ['127.0.0.1:9001', '127.0.0.1:9002']);
  await registry.register({ service: 'any.Service', host: '127.0.0.1', port: 9003 });
  assert.equal(watch.latest(), ['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003']);
  await registry.deregister({ service: 'any.Service', host: '127.0.0.1', port: 9003 });
  assert.equal(watch.latest(), ['127.0.0.1:9001', '127.0.0.1:9002']);
  assert.is(watch.lists.length, 3);
  await registry.close();
});

test('ringrpc:// (built-in registry): register, watch, deregister, close', async () => {
  await registerWatchDeregister(async () => {
    const server = new RegistryServer({ host: '127.0.0.1' });
    const { port } = await server.listen(0, '127.0.0.1');
    return { uri: `ringrpc://127.0.0.1:${port}`, done: () => server.close() };
  });
});

test('zk:// (ZooKeeper): register, watch, deregister, close', async () => {
  if (!(await haveZooKeeper())) return;
  await registerWatchDeregister(async () => ({ uri: zkUri('basic'), done: async () => {} }));
});

test('built-in registry: heartbeats keep a lease past its TTL; close deregisters (a lapsed lease is tested with SIGKILL in discovery)', async () => {
  const server = new RegistryServer({ host: '127.0.0.1' });
  const { port } = await server.listen(0, '127.0.0.1');
  const a = openRegistry(`ringrpc://127.0.0.1:${port}?leaseTtlMs=400`);
  const b = openRegistry(`ringrpc://127.0.0.1:${port}?leaseTtlMs=400`);
  await a.register({ service: 's.S', host: '127.0.0.1', port: 1 });
  await b.register({ service: 's.S', host: '127.0.0.1', port: 2 });
  await sleep(1000);
  assert.equal(
    server.snapshot().services['s.S']!.map((i) => i.port),
    [1, 2],
    'both leases renewed',
  );
  assert.is(server.snapshot().leases, 2);
  await a.close();
  assert.equal(
    server.snapshot().services['s.S']!.map((i) => i.port),
    [2],
  );
  await b.close();
  assert.equal(server.snapshot().services, {}, 'close deregisters');
  await server.close();
});

test('built-in registry restarted: providers register again and watchers see them', async () => {
  const port = await freePort();
  let server = new RegistryServer({ host: '127.0.0.1' });
  await server.listen(port, '127.0.0.1');
  const uri = `ringrpc://127.0.0.1:${port}?leaseTtlMs=600&connectTimeoutMs=1000`;
  const provider = openRegistry(uri);
  const consumer = openRegistry(uri);
  await provider.register({ service: 's.S', host: '127.0.0.1', port: 11 });
  const watch = follow(consumer, 's.S');
  await until(() => watch.latest().length === 1, 3000, 'the instance');
  await server.close();
  await sleep(1300);
  assert.equal(watch.latest(), ['127.0.0.1:11'], 'the last list stays while the registry is down');
  server = new RegistryServer({ host: '127.0.0.1' });
  await server.listen(port, '127.0.0.1');
  await until(() => (server.snapshot().services['s.S'] ?? []).length === 1, 5000, 'the provider to register again');
  await provider.register({ service: 's.S', host: '127.0.0.1', port: 12 });
  await until(() => watch.latest().length === 2, 8000, 'the watcher to see the new registry');
  assert.ok(watch.errors.length > 0, 'the watcher was told the registry was unreachable');
  assert.match(watch.errors[0]!.message, `registry unreachable at 127.0.0.1:${port}`);
  watch.stop();
  await provider.close();
  await consumer.close();
  await server.close();
});

test('an unreachable registry is named: ZooKeeper and built-in, for register and for a client call', async () => {
  const port = await freePort();
  const zk = openRegistry(`zk://127.0.0.1:${port}/x?connectTimeoutMs=500`);
  const error = await zk.register({ service: 's.S', host: '127.0.0.1', port: 1 }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.instance(error, RpcError);
  assert.is(error!.code, Status.UNAVAILABLE);
  assert.match(error!.message, `ZooKeeper unreachable at 127.0.0.1:${port}: no session after 500 ms`);
  await zk.close();

  const client = benchClient(`zk://127.0.0.1:${port}/x?connectTimeoutMs=300`, { timeoutMs: 5000 });
  const callError = await client.echo({}).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(callError?.code, Status.UNAVAILABLE);
  assert.match(callError!.message, `ZooKeeper unreachable at 127.0.0.1:${port}`);
  assert.match(callError!.message, 'bench.v1.Bench/Echo');
  await client.$close();

  const builtin = openRegistry(`ringrpc://127.0.0.1:${port}?connectTimeoutMs=500`);
  const e2 = await builtin.register({ service: 's.S', host: '127.0.0.1', port: 1 }).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(e2?.code, Status.UNAVAILABLE);
  assert.match(e2!.message, `registry unreachable at 127.0.0.1:${port}`);
  await builtin.close();
});

test('bad registry URIs and instances are INVALID_ARGUMENT naming what is wrong', async () => {
  const cases: Array<[string, string]> = [
    ['etcd://127.0.0.1:2379', 'unknown scheme etcd://'],
    ['zk://', 'zk:// needs at least one host:port'],
    ['zk://127.0.0.1:2181/a b', 'invalid ZooKeeper path'],
    ['ringrpc://a:1,b:2', 'exactly one host:port'],
    ['zk://127.0.0.1:2181/r?sessionTimeout=5', 'unknown parameter sessionTimeout'],
    ['zk://127.0.0.1:2181/r?sessionTimeoutMs=-5', 'sessionTimeoutMs must be a positive integer'],
    ['static://127.0.0.1:99999', 'port from 1 to 65535'],
  ];
  for (const [uri, message] of cases) {
    try {
      openRegistry(uri);
      assert.unreachable(uri);
    } catch (err) {
      assert.instance(err, RpcError);
      assert.is((err as RpcError).code, Status.INVALID_ARGUMENT);
      assert.match((err as RpcError).message, message);
      assert.match((err as RpcError).message, JSON.stringify(uri));
    }
  }
  const registry = openRegistry('static://');
  for (const [instance, message] of [
    [{ service: '', host: 'h', port: 1 }, 'service must be a non-empty string'],
    [{ service: 's', host: 'h', port: 0 }, 'port must be an integer from 1 to 65535'],
    [{ service: 's', host: 'h', port: 1, weight: 0 }, 'weight must be an integer'],
  ] as const) {
    const error = await registry.register(instance as never).then(
      () => undefined,
      (e: RpcError) => e,
    );
    assert.is(error?.code, Status.INVALID_ARGUMENT);
    assert.match(error!.message, message);
  }
  await registry.close();
});

test('a server with a registry announces its service once listening and withdraws it on shutdown', async () => {
  const registry = openRegistry('static://');
  const { server, port } = await startBenchServer({ registry, advertise: { weight: 7, metadata: { zone: 'z1' } } });
  const watch = follow(registry, Bench.name);
  await until(() => watch.latest().length === 1);
  assert.equal(watch.latest(), [`127.0.0.1:${port}`]);
  assert.is(watch.lists.at(-1)![0]!.weight, 7);
  assert.equal(watch.lists.at(-1)![0]!.metadata, { zone: 'z1' });
  const client = benchClient(registry);
  await client.echo({});
  await server.close();
  assert.equal(watch.latest(), [], 'withdrawn');
  await client.$close();
  await registry.close();
});

test.run();
