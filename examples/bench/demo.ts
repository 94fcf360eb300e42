/**
 * `npm start`: starts the bench server (the real CLI, in its own process) with Work on the
 * worker lane (one worker per core) and a metrics port, runs a short load on Echo (inline)
 * and on Work (worker lane), prints both tables, writes bench-report.html with both runs
 * and the server's own stats, stops the server.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createClient, type Client } from '../../src/index.js';
import { runLoad, formatLoadResult } from '../../src/bench/load-generator.js';
import { renderReport } from '../../src/bench/html-report.js';
import { Bench } from './generated.js';
import { calibrateRounds } from './handlers.js';

const CLI = 'dist/src/cli/bin.js';
const REPORT = 'bench-report.html';
if (!existsSync(CLI)) {
  process.stderr.write(`${CLI} is missing: run "npm install" (it builds the CLI) or "npm run build" first\n`);
  process.exit(1);
}

// Calibrated first, on a quiet machine: with the server starting or under load, the same
// rounds would measure slower and Work would come out lighter than 1 ms.
const rounds = calibrateRounds(1);
const workers = availableParallelism();
const server = spawn(
  process.execPath,
  [
    CLI,
    'serve',
    '--proto',
    'proto/bench/v1/bench.proto',
    '--handlers',
    'examples/bench/handlers.ts',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--workers',
    String(workers),
    '--worker-methods',
    'Work',
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RINGRPC_LOG_LEVEL: 'warn' },
  },
);
const { address, metrics } = await new Promise<{ address: string; metrics: string }>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const a = /ringrpc listening on (\S+)/.exec(out);
    const m = /ringrpc metrics on (\S+)\/metrics/.exec(out);
    if (a && m) resolve({ address: a[1]!, metrics: m[1]! });
  });
  server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
process.stdout.write(`bench server at ${address} (pid ${server.pid}), Work on ${workers} worker threads; status page ${metrics}/\n\n`);

const client: Client<typeof Bench> = createClient(Bench, address, { timeoutMs: 10_000 });
const payload = new Uint8Array(64).fill(7);
const durationMs = 4000;
const warmupMs = 500;

const echoTitle = 'Echo (64-byte payload, concurrency 64, inline lane)';
const echo = await runLoad(() => client.echo({ payload }), { concurrency: 64, durationMs, warmupMs });
process.stdout.write(`${formatLoadResult(echoTitle, echo.result)}\n\n`);

const workTitle = `Work (${rounds} sha256 rounds ≈ 1 ms of CPU, concurrency 16, worker lane)`;
const work = await runLoad(() => client.work({ payload, rounds }), { concurrency: 16, durationMs, warmupMs });
process.stdout.write(`${formatLoadResult(workTitle, work.result)}\n`);

const serverStats = await fetch(`${metrics}/stats.json`).then(
  (r) => r.json() as Promise<unknown>,
  () => undefined,
);
const common = { target: address, duration: `${durationMs} ms`, warmup: `${warmupMs} ms`, mode: 'closed loop' };
writeFileSync(
  REPORT,
  renderReport({
    title: 'ringrpc demo: the bench service under load',
    sections: [
      { title: echoTitle, settings: { ...common, method: 'bench.v1.Bench/Echo', concurrency: 64, lane: 'inline' }, run: echo },
      { title: workTitle, settings: { ...common, method: 'bench.v1.Bench/Work', concurrency: 16, lane: `worker (${workers} threads)` }, run: work },
    ],
    serverStats,
  }),
);
process.stdout.write(`\nreport written to ${REPORT}\n`);

await client.$close();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
