// ringrpc bench server: --port 0 [--workers n --worker-methods Work,Echo --ring on|off --atomics async|sync]
// Prints "READY <port>".
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Lane } from '../../src/index.js';
import { Bench } from '../../examples/bench/generated.js';
import { Bench as handlers } from '../../examples/bench/handlers.js';
import { flags } from '../lib/proc.js';

const f = flags(process.argv.slice(2));
// The handlers in this script's own form: handlers.js in the build, handlers.ts in the sources.
const workerModule = new URL(`../../examples/bench/handlers${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const lanes: Record<string, Lane> = {};
for (const m of (f['worker-methods'] ?? '').split(',').filter(Boolean)) lanes[m] = 'worker';
const server = createServer({
  host: '127.0.0.1',
  port: Number(f['port'] ?? 0),
  workers: f['workers'] ? Number(f['workers']) : undefined,
  responseRing: f['ring'] !== 'off',
  workerAtomics: f['atomics'] === 'sync' ? 'sync' : 'async',
  maxQueue: 4096,
}).addService(Bench, handlers, { lanes, workerModule });
const { port } = await server.listen();
process.stdout.write(`READY ${port}\n`);
process.on('SIGTERM', () => void server.shutdown({ graceMs: 1000 }).then(() => process.exit(0)));
