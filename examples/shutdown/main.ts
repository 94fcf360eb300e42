/**
 * A rolling restart under load, with zero failed calls.
 *
 * Two `ringrpc serve` processes run the bench service. A client spreads 64 concurrent
 * callers (Echo and a small Work) over both. Each server in turn gets SIGTERM: it stops
 * accepting, sends GOAWAY with the last request it took, answers everything it took, and
 * exits; a new process takes its port. The client moves new calls to the other server,
 * resends anything the GOAWAY says was never run, and reconnects when the port is back.
 *
 * `node --import tsx examples/shutdown/main.ts`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createClient, type RpcError } from '../../src/index.js';
import { Bench } from '../bench/generated.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `ringrpc serve` (from source) and resolves with the process once it listens. */
async function startServer(port: number): Promise<{ process: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/bin.ts',
      'serve',
      '--proto',
      'proto/bench/v1/bench.proto',
      '--handlers',
      'examples/bench/handlers.ts',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RINGRPC_LOG_LEVEL: 'warn' } },
  );
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const match = /listening on [\d.]+:(\d+)/.exec(out);
    if (match) return { process: child, port: Number(match[1]) };
  }
  throw new Error(`server on port ${port} exited before listening`);
}

/** SIGTERM, wait for the exit, start a new process on the port, wait until the client uses it again. */
async function restart(server: { process: ChildProcess; port: number }, name: string) {
  const started = Date.now();
  server.process.kill('SIGTERM');
  await once(server.process, 'exit');
  log(`  ${name}: drained and exited in ${Date.now() - started} ms`);
  const next = await startServer(server.port);
  log(`  ${name}: listening again after ${Date.now() - started} ms`);
  // As a deploy waits for readiness before it moves on: here, until the client is connected again.
  const address = `127.0.0.1:${server.port}`;
  while (client.$stats().find((s) => s.address === address)?.state !== 'ready') await sleep(10);
  log(`  ${name}: serving the client again after ${Date.now() - started} ms`);
  return next;
}

let a = await startServer(0);
let b = await startServer(0);
log(`servers on ports ${a.port} and ${b.port}; load: 64 callers`);

let resent = 0;
diagnostics.subscribe('ringrpc:client:retry', () => resent++);
const client = createClient(Bench, [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
const tally = { ok: 0, failed: 0 };
let running = true;
const callers = Array.from({ length: 64 }, async (_, i) => {
  while (running) {
    try {
      if (i % 4 === 0) await client.work({ payload: Buffer.from('x'), rounds: 200 });
      else await client.echo({ payload: Buffer.from('hello') });
      tally.ok++;
    } catch (err) {
      tally.failed++;
      log(`  failed: ${(err as RpcError).message}`);
    }
  }
});

await sleep(1000);
log('rolling restart:');
a = await restart(a, 'server A');
b = await restart(b, 'server B');
await sleep(1000);
running = false;
await Promise.all(callers);

log(`calls: ${tally.ok} succeeded, ${tally.failed} failed; ${resent} sent again after a GOAWAY or a refused connect`);
await client.$close();
for (const s of [a, b]) {
  s.process.kill('SIGTERM');
  await once(s.process, 'exit');
}
if (tally.failed > 0) process.exitCode = 1;
