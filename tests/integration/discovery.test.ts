/**
 * Service discovery end to end, with real processes: `ringrpc serve --registry` providers,
 * a real ZooKeeper or a `ringrpc registry` process, and a client following the registry.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openRegistry, type Registry } from '../../src/index.js';
import { benchClient } from '../helpers/bench-server.js';
import { spawnCli, waitForOutput, type Child, spawnServe } from '../helpers/child.js';
import { load } from '../helpers/load.js';
import { freePort, sleep, until } from '../helpers/tcp.js';
import { haveZooKeeper, zkUri, zookeeper, zookeeperIsManaged } from '../helpers/zookeeper.js';

const test = suite('service discovery');

interface Provider {
  readonly child: Child;
  readonly port: number;
  readonly metrics: string;
}

const children = new Set<Child>();

/** A provider process; its handlers are the compiled ones: how they load is not what is tested here. */
async function startProvider(uri: string): Promise<Provider> {
  const child = spawnServe(['--metrics-port', '0', '--registry', uri], {}, 'dist/examples/bench/handlers.js');
  children.add(child);
  const [, port] = await waitForOutput(child, /ringrpc listening on 127\.0\.0\.1:(\d+)/);
  const [, metrics] = await waitForOutput(child, /ringrpc metrics on (http:\/\/\S+)\/metrics/);
  return { child, port: Number(port), metrics: metrics! };
}

async function echoCount(provider: Provider): Promise<number> {
  const stats = (await (await fetch(`${provider.metrics}/stats.json`)).json()) as { methods: Record<string, { requests: number }> };
  return stats.methods['bench.v1.Bench/Echo']?.requests ?? 0;
}

async function stopAll(): Promise<void> {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGCONT');
      child.process.kill('SIGKILL');
    }
    await child.exited;
  }
  children.clear();
}

/** Polls a registry until the service's list has `n` instances; returns how long that took. */
async function waitForInstances(registry: Registry, n: number, ms: number, what: string): Promise<number> {
  const started = Date.now();
  let latest = -1;
  const stop = registry.watch('bench.v1.Bench', (list) => (latest = list.length));
  try {
    await until(() => latest === n, ms, what);
  } finally {
    stop();
  }
  return Date.now() - started;
}

/** The backends under test: ZooKeeper (when it runs here) and the built-in registry as a process. */
async function backends(): Promise<Array<{ name: string; uri: string }>> {
  const out: Array<{ name: string; uri: string }> = [];
  const registry = spawnCli(['registry', '--host', '127.0.0.1', '--port', '0']);
  children.add(registry);
  const [, port] = await waitForOutput(registry, /ringrpc registry on ringrpc:\/\/127\.0\.0\.1:(\d+)/);
  out.push({ name: 'built-in', uri: `ringrpc://127.0.0.1:${port}?leaseTtlMs=1500` });
  if (await haveZooKeeper()) out.push({ name: 'ZooKeeper', uri: zkUri('cluster') });
  return out;
}

test('three servers: the client spreads calls evenly, and moves off one stopped with SIGTERM without a failed call', async () => {
  try {
    for (const backend of await backends()) {
      const providers = await Promise.all([0, 1, 2].map(() => startProvider(backend.uri)));
      const client = benchClient(backend.uri, { timeoutMs: 5000 });
      await client.echo({}); // waits for the registry's first list
      await until(() => client.$instances().length === 3, 10_000, `${backend.name}: three instances`);
      const before = await Promise.all(providers.map(echoCount));
      await Promise.all(Array.from({ length: 900 }, () => client.echo({})));
      const counts = (await Promise.all(providers.map(echoCount))).map((n, i) => n - before[i]!);
      // Round robin over a stable set: each gets a third, give or take a few.
      for (const n of counts) assert.ok(Math.abs(n - 300) <= 15, `${backend.name}: calls per server ${counts.join(', ')}, expected 300 ± 15`);

      const run = load(() => client.echo({}), 16);
      await sleep(200);
      providers[0]!.child.process.kill('SIGTERM');
      await providers[0]!.child.exited;
      await until(() => client.$instances().length === 2, 5000, `${backend.name}: the stopped server to leave the list`);
      await sleep(200);
      await run.stop();
      assert.equal(
        run.tally.failed.map((e) => e.message),
        [],
        `${backend.name}: no call failed`,
      );
      assert.ok(run.tally.ok > 100, `${backend.name}: ${run.tally.ok} calls`);
      const after = await Promise.all(providers.slice(1).map(echoCount));
      await Promise.all(Array.from({ length: 200 }, () => client.echo({})));
      const final = await Promise.all(providers.slice(1).map(echoCount));
      assert.is(final[0]! - after[0]! + final[1]! - after[1]!, 200, `${backend.name}: every later call went to the two left`);
      await client.$close();
      for (const p of providers.slice(1)) p.child.process.kill('SIGTERM');
      await Promise.all(providers.map((p) => p.child.exited));
    }
  } finally {
    await stopAll();
  }
});

test('a server killed with SIGKILL leaves the list after the session timeout (or lease), and the client stops calling it', async () => {
  try {
    for (const backend of await backends()) {
      const observer = openRegistry(backend.uri);
      const providers = await Promise.all([0, 1].map(() => startProvider(backend.uri)));
      await waitForInstances(observer, 2, 10_000, `${backend.name}: two instances`);
      const client = benchClient(backend.uri, { timeoutMs: 5000 });
      await Promise.all(Array.from({ length: 50 }, () => client.echo({})));
      providers[0]!.child.process.kill('SIGKILL');
      await providers[0]!.child.exited;
      const gone = await waitForInstances(observer, 1, 10_000, `${backend.name}: the killed server to leave the list`);
      // Session timeout 2000 ms (ZooKeeper) / lease 1500 ms (built-in), plus up to a tick.
      assert.ok(gone > 500 && gone < 4000, `${backend.name}: gone after ${gone} ms`);
      await until(() => client.$instances().length === 1, 2000, 'the client to drop it');
      const before = await echoCount(providers[1]!);
      const replies = await Promise.allSettled(Array.from({ length: 200 }, () => client.echo({})));
      assert.equal(
        replies.filter((r) => r.status === 'rejected'),
        [],
      );
      assert.is((await echoCount(providers[1]!)) - before, 200, `${backend.name}: all to the live server`);
      await client.$close();
      await observer.close();
      providers[1]!.child.process.kill('SIGTERM');
      await providers[1]!.child.exited;
    }
  } finally {
    await stopAll();
  }
});

test('ZooKeeper stopped and restarted: calls to known servers go on throughout; membership changes are seen again after', async () => {
  if (!(await haveZooKeeper())) return;
  if (!zookeeperIsManaged()) {
    process.stderr.write('\n  ZooKeeper restart test SKIPPED: ZooKeeper is not the one scripts/zookeeper.sh runs\n');
    return;
  }
  const uri = zkUri('restart', 'sessionTimeoutMs=6000&connectTimeoutMs=1000');
  try {
    const providers = await Promise.all([0, 1].map(() => startProvider(uri)));
    const client = benchClient(uri, { timeoutMs: 5000 });
    await client.echo({});
    await until(() => client.$instances().length === 2, 10_000, 'two instances');
    const run = load(() => client.echo({}), 8);
    await zookeeper('stop');
    await sleep(1500);
    const duringOutage = run.tally.ok;
    await sleep(500);
    assert.ok(run.tally.ok > duringOutage, 'calls go on while ZooKeeper is down');
    assert.is(client.$instances().length, 2, 'the last known list stays');
    await zookeeper('restart');
    const third = await startProvider(uri);
    await until(() => client.$instances().length === 3, 15_000, 'the client to see a server started after the restart');
    await run.stop();
    assert.equal(
      run.tally.failed.map((e) => e.message),
      [],
    );
    await client.$close();
    for (const p of [...providers, third]) p.child.process.kill('SIGTERM');
    await Promise.all([...providers, third].map((p) => p.child.exited));
  } finally {
    await stopAll();
  }
});

test('a server started while ZooKeeper is down serves at once and registers when ZooKeeper comes up', async () => {
  if (!(await haveZooKeeper()) || !zookeeperIsManaged()) return;
  const port = await freePort();
  const uri = `zk://127.0.0.1:${port}/late?sessionTimeoutMs=2000&connectTimeoutMs=500`;
  const started = Date.now();
  const provider = await startProvider(uri);
  try {
    assert.ok(Date.now() - started < 8000);
    await until(() => /registry: register-failed/.test(provider.child.stderr), 5000, 'the failed registration to be logged');
    assert.match(provider.child.stderr, `ZooKeeper unreachable at 127.0.0.1:${port}`);
    const direct = benchClient(`127.0.0.1:${provider.port}`);
    await direct.echo({}); // serving meanwhile
    await direct.$close();
    await zookeeper('start', port);
    const observer = openRegistry(uri);
    await waitForInstances(observer, 1, 15_000, 'the server to register once ZooKeeper is up');
    await observer.close();
  } finally {
    await stopAll();
    await zookeeper('stop', port);
  }
});

test('ZooKeeper session expiry: a provider stopped past its session timeout re-registers when it resumes', async () => {
  if (!(await haveZooKeeper())) return;
  const uri = zkUri('expiry', 'sessionTimeoutMs=1500&connectTimeoutMs=3000');
  const observer = openRegistry(uri);
  try {
    const provider = await startProvider(uri);
    await waitForInstances(observer, 1, 10_000, 'the instance');
    provider.child.process.kill('SIGSTOP');
    const gone = await waitForInstances(observer, 0, 8000, "the stopped provider's session to expire");
    assert.ok(gone >= 1000, `expired after ${gone} ms`);
    provider.child.process.kill('SIGCONT');
    const back = await waitForInstances(observer, 1, 8000, 'the provider to re-register');
    assert.ok(back < 5000, `re-registered ${back} ms after SIGCONT`);
    await until(() => /registry: session-expired/.test(provider.child.stderr), 2000, 'the provider to log its expired session');
    provider.child.process.kill('SIGTERM');
    await provider.child.exited;
  } finally {
    await observer.close();
    await stopAll();
  }
});

test.run();
