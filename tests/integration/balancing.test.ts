import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RegistryServer, type RpcError, Status, openRegistry } from '../../src/index.js';
import { Bench, benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { freePort, until } from '../helpers/tcp.js';
import { createServer } from '../../src/index.js';

const test = suite('load balancing and outlier ejection');

const echoes = (server: { stats(): { methods: Record<string, { requests: number }> } }): number => server.stats().methods['bench.v1.Bench/Echo']?.requests ?? 0;

test('an instance that refuses connections is ejected: every call succeeds on the others, and it costs one connect per backoff', async () => {
  const live = await startBenchServer();
  const deadPort = await freePort();
  const client = benchClient(`127.0.0.1:${deadPort},${live.address}`, { reconnect: { initialMs: 200, maxMs: 200, jitter: 0 } });
  const started = Date.now();
  for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 20 }, () => client.echo({})));
  const elapsed = Date.now() - started;
  const dead = client.$stats().find((s) => s.address === `127.0.0.1:${deadPort}`)!;
  assert.ok(dead.connects <= 2 + Math.ceil(elapsed / 200), `${dead.connects} connects to the dead instance in ${elapsed} ms`);
  assert.is(echoes(live.server), 400);
  await client.$close();
  await live.server.close();
});

test('the ejection cap keeps instances in rotation: when every connect failed, a call still tries one for real', async () => {
  const ports = [await freePort(), await freePort()];
  const target = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const slowBackoff = { initialMs: 10_000, maxMs: 10_000, jitter: 0 };
  const capped = benchClient(target, { reconnect: slowBackoff, retry: false });
  const uncapped = benchClient(target, { reconnect: slowBackoff, retry: false, maxEjectionPercent: 100 });
  for (const client of [capped, uncapped]) {
    for (let i = 0; i < 4; i++) await client.echo({}).catch(() => {}); // both instances fail and enter a 10 s backoff
    assert.ok(client.$stats().every((s) => s.state === 'backoff'));
  }
  // The network comes back.
  const servers = await Promise.all(
    ports.map(async (port) => {
      const server = createServer({ host: '127.0.0.1', port }).addService(Bench, handlers);
      await server.listen();
      return server;
    }),
  );
  // With the cap (50%), the instance with the least backoff left stays in rotation and is tried at once.
  await capped.echo({});
  // Without it, both are ejected and calls fail fast until a backoff ends.
  const error = await uncapped.echo({}).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(error?.code, Status.UNAVAILABLE);
  assert.match(error!.message, /next attempt in \d+ ms/);
  await capped.$close();
  await uncapped.$close();
  await Promise.all(servers.map((s) => s.close()));
});

test('client balancers over a registry: weighted_random follows weights, consistent_hash sticks a key to one server', async () => {
  const registry = openRegistry('static://');
  const servers = await Promise.all([100, 100, 400].map((weight) => startBenchServer({ registry, advertise: { weight } })));
  const weighted = benchClient(registry, { loadBalancer: 'weighted_random' });
  await Promise.all(Array.from({ length: 3000 }, () => weighted.echo({})));
  const shares = servers.map((s) => echoes(s.server) / 3000);
  assert.ok(Math.abs(shares[2]! - 4 / 6) < 0.05 && Math.abs(shares[0]! - 1 / 6) < 0.04, `shares ${shares.map((x) => x.toFixed(3))}`);
  await weighted.$close();

  const hashed = benchClient(registry, { loadBalancer: 'consistent_hash' });
  const before = servers.map((s) => echoes(s.server));
  await Promise.all(Array.from({ length: 100 }, () => hashed.echo({}, { key: 'alice' })));
  const got = servers.map((s, i) => echoes(s.server) - before[i]!);
  assert.equal(
    got.filter((n) => n > 0),
    [100],
    `one server took every call of the key: ${got}`,
  );
  const missing = await hashed.echo({}).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(missing?.code, Status.INVALID_ARGUMENT);
  assert.match(missing!.message, 'loadBalancer consistent_hash needs a key for each call: pass { key }');
  await hashed.$close();

  const spread = benchClient(registry, { loadBalancer: 'least_outstanding' });
  const base = servers.map((s) => echoes(s.server));
  await Promise.all(Array.from({ length: 900 }, () => spread.echo({})));
  const share = servers.map((s, i) => echoes(s.server) - base[i]!);
  for (const n of share) assert.ok(n > 150, `least_outstanding uses every server: ${share}`);
  await spread.$close();
  for (const s of servers) await s.server.close();
  await registry.close();
});

test('a client following an empty registry fails UNAVAILABLE naming the service and registry, and calls a server once it registers', async () => {
  const registry = openRegistry('static://');
  const client = benchClient(registry, { retry: false });
  const error = await client.echo({}).then(
    () => undefined,
    (e: RpcError) => e,
  );
  assert.is(error?.code, Status.UNAVAILABLE);
  assert.match(error!.message, 'no instances of bench.v1.Bench in static:// (service bench.v1.Bench)');
  const { server, port } = await startBenchServer({ registry });
  await until(() => client.$instances().length === 1);
  assert.equal(client.$instances(), [{ host: '127.0.0.1', port }]);
  await client.echo({});
  await client.$close();
  await server.close();
  await registry.close();
});

test('calls made before the registry answers wait for its first list', async () => {
  const port = await freePort();
  const client = benchClient(`ringrpc://127.0.0.1:${port}?connectTimeoutMs=3000`, { timeoutMs: 5000 });
  const early = client.echo({});
  const registry = new RegistryServer({ host: '127.0.0.1' });
  await registry.listen(port, '127.0.0.1');
  const { server } = await startBenchServer({ registry: `ringrpc://127.0.0.1:${port}` });
  await early;
  await client.$close();
  await server.close();
  await registry.close();
});

test.run();
