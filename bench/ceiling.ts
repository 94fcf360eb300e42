// The CPU ceiling: N bare worker threads doing Work in a loop, no RPC. Prints RESULT {rps}.
// --threads 2 --rounds R --duration ms
import { Worker } from 'node:worker_threads';
import { flags } from './lib/proc.js';

const f = flags(process.argv.slice(2));
const threads = Number(f['threads'] ?? 2);
const duration = Number(f['duration'] ?? 5000);
const source = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { createHash } = require('node:crypto');
  const payload = new Uint8Array(64).fill(7);
  const work = () => { let d = payload; for (let i = 0; i < workerData.rounds; i++) d = createHash('sha256').update(d).update(payload).digest(); return d; };
  const warmEnd = Date.now() + 500; while (Date.now() < warmEnd) work();
  let n = 0; const end = Date.now() + workerData.duration;
  while (Date.now() < end) { work(); n++; }
  parentPort.postMessage(n);
`;
const counts = await Promise.all(Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
  const w = new Worker(source, { eval: true, workerData: { rounds: Number(f['rounds']), duration } });
  w.once('message', resolve);
  w.once('error', reject);
})));
const rps = (counts.reduce((a, b) => a + b, 0) * 1000) / duration;
process.stdout.write(`RESULT ${JSON.stringify({ rps })}\n`);
