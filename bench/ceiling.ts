// The CPU ceiling: N bare worker threads doing Work in a loop, no RPC. Prints RESULT {rps}.
// --threads 2 --rounds R --kernel 0|1 (WorkKernel) --duration ms
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { flags } from './lib/proc.js';

const f = flags(process.argv.slice(2));
const threads = Number(f['threads'] ?? 2);
const duration = Number(f['duration'] ?? 5000);
// The very function the servers' handlers run (examples/bench/handlers), compiled or not as this script is.
const module = new URL(`../examples/bench/handlers${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
const source = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.module).then(({ work }) => {
    const payload = new Uint8Array(64).fill(7);
    const once = () => work(payload, workerData.rounds, workerData.kernel);
    const warmEnd = Date.now() + 500; while (Date.now() < warmEnd) once();
    let n = 0; const end = Date.now() + workerData.duration;
    while (Date.now() < end) { once(); n++; }
    parentPort.postMessage(n);
  });
`;
const workerData = { module, rounds: Number(f['rounds']), kernel: Number(f['kernel'] ?? 0), duration };
const counts = await Promise.all(
  Array.from(
    { length: threads },
    () =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(source, { eval: true, workerData });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  ),
);
const rps = (counts.reduce((a, b) => a + b, 0) * 1000) / duration;
process.stdout.write(`RESULT ${JSON.stringify({ rps })}\n`);
