/**
 * A cluster found through a registry.
 *
 * Three `ringrpc serve --registry <uri>` processes announce the bench service; a client
 * given only the registry URI follows the live instance list and spreads calls over
 * them. One server is stopped with SIGTERM: it leaves the registry first, then drains,
 * and the client moves on without a failed call. Then a fourth server joins and the
 * client picks it up.
 *
 *   node --import tsx examples/cluster/main.ts             # the built-in registry (started here)
 *   node --import tsx examples/cluster/main.ts zookeeper   # ZooKeeper at $ZK_CONNECT or 127.0.0.1:21810
 *                                                          # (scripts/zookeeper.sh start runs one)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createClient, type RpcError } from '../../src/index.js';
import { Bench } from '../bench/generated.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the CLI (from source) and resolves once its stdout matches `ready`. */
async function start(args: string[], ready: RegExp): Promise<{ process: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RINGRPC_LOG_LEVEL: 'warn' },
  });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const match = ready.exec(out);
    if (match) return { process: child, match };
  }
  throw new Error(`ringrpc ${args[0]} exited before it was ready`);
}

const backend = process.argv[2] ?? 'builtin';
const helpers: ChildProcess[] = [];
let uri: string;
if (backend === 'zookeeper' || backend === 'zk') {
  uri = `zk://${process.env['ZK_CONNECT'] ?? '127.0.0.1:21810'}/ringrpc-example?sessionTimeoutMs=4000`;
} else {
  const registry = await start(['registry', '--port', '0'], /on (ringrpc:\/\/\S+)/);
  helpers.push(registry.process);
  uri = registry.match[1]!;
}
log(`registry: ${uri}`);

const startServer = async (): Promise<{ process: ChildProcess; port: string }> => {
  const s = await start(
    ['serve', '--proto', 'proto/bench/v1/bench.proto', '--handlers', 'examples/bench/handlers.ts', '--host', '127.0.0.1', '--port', '0', '--registry', uri],
    /listening on [\d.]+:(\d+)/,
  );
  return { process: s.process, port: s.match[1]! };
};
const servers = await Promise.all([startServer(), startServer(), startServer()]);
log(`servers on ports ${servers.map((s) => s.port).join(', ')}`);

const client = createClient(Bench, uri, { registry: { connectTimeoutMs: 3000 } });
const tally = { ok: 0, failed: 0 };
let running = true;
const callers = Array.from({ length: 32 }, async () => {
  while (running) {
    try {
      await client.echo({ payload: Buffer.from('hello') });
      tally.ok++;
    } catch (err) {
      tally.failed++;
      log(`  failed: ${(err as RpcError).message}`);
    }
  }
});
/** Runs the load for `ms` and prints how the calls spread (from the client's per-instance counts). */
const phase = async (title: string, ms: number): Promise<void> => {
  const callsTo = () => new Map(client.$stats().map((s) => [s.address, s.calls]));
  const before = callsTo();
  const ok = tally.ok;
  await sleep(ms);
  const spread = [...callsTo()]
    .sort()
    .map(([address, n]) => `${address} ${n - (before.get(address) ?? 0)}`)
    .join(', ');
  log(`${title}: ${client.$instances().length} instances, ${tally.ok - ok} calls: ${spread}`);
};

await client.echo({});
await phase('three servers', 1000);

const stopped = servers.shift()!;
const t0 = Date.now();
stopped.process.kill('SIGTERM');
await once(stopped.process, 'exit');
log(`server on port ${stopped.port} stopped (SIGTERM) in ${Date.now() - t0} ms`);
await phase('after the stop', 1000);

servers.push(await startServer());
while (client.$instances().length < 3) await sleep(10);
log(`a new server on port ${servers.at(-1)!.port} joined`);
await phase('after the join', 1000);

running = false;
await Promise.all(callers);
log(`calls: ${tally.ok} succeeded, ${tally.failed} failed`);
await client.$close();
for (const p of [...servers.map((s) => s.process), ...helpers]) {
  p.kill('SIGTERM');
  await once(p, 'exit');
}
if (tally.failed > 0) process.exitCode = 1;
