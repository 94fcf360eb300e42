/**
 * `npm start`: starts the bench server (the real CLI, in its own process) with Work on the
 * worker lane (one worker per core), runs a short load on Echo (inline) and on Work,
 * prints both tables, stops the server.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createClient, type Client } from '../../src/index.js';
import { runLoad, formatLoadResult } from '../../src/bench/load-generator.js';
import { Bench } from './generated.js';
import { calibrateRounds } from './handlers.js';

const CLI = 'dist/src/cli/bin.js';
if (!existsSync(CLI)) {
  process.stderr.write(`${CLI} is missing: run "npm install" (it builds the CLI) or "npm run build" first\n`);
  process.exit(1);
}

const server = spawn(process.execPath, [CLI, 'serve', '--proto', 'proto/bench/v1/bench.proto', '--handlers', 'examples/bench/handlers.ts', '--host', '127.0.0.1', '--port', '0', '--worker-methods', 'Work'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const address = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /ringrpc listening on (\S+)/.exec(out);
    if (m) resolve(m[1]!);
  });
  server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
process.stdout.write(`bench server at ${address} (pid ${server.pid})\n\n`);

const client: Client<typeof Bench> = createClient(Bench, address, { timeoutMs: 10_000 });
const payload = new Uint8Array(64).fill(7);

const echo = await runLoad(() => client.echo({ payload }), { concurrency: 64, durationMs: 4000, warmupMs: 500 });
process.stdout.write(`${formatLoadResult('Echo (64-byte payload, concurrency 64, inline lane)', echo)}\n\n`);

const rounds = calibrateRounds(1);
const work = await runLoad(() => client.work({ payload, rounds }), { concurrency: 16, durationMs: 4000, warmupMs: 500 });
process.stdout.write(`${formatLoadResult(`Work (${rounds} sha256 rounds ≈ 1 ms of CPU, concurrency 16, worker lane)`, work)}\n`);

await client.$close();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
