// ringrpc bench server: --port 0 [--workers n --worker-methods Work,Echo --ring on|off --atomics async|sync]
//   [--actor-methods Work,Tally --actor-workers n --max-actor-queue n --max-queue n]
//   [--worker-nice n (options.workerNice)] [--reserve on|off (options.reserveReactorCore)] [--max-connections n]
//   [--interceptor none|pass|tracing: 'pass' installs one server interceptor that only calls next(),
//    'tracing' ringrpc's tracing over the OpenTelemetry SDK with an exporter that drops spans]
//   [--stamp on: Stream's replies carry the time they were produced (bench/servers/stream-stamp.ts)]
// Prints "READY <port>". On SIGUSR2 prints "STATS <json of server.stats()>" (one line).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Lane, type ServerInterceptor } from '../../src/index.js';
import { Bench } from '../../examples/bench/generated.js';
import { Bench as handlers } from '../../examples/bench/handlers.js';
import { flags } from '../lib/proc.js';

const f = flags(process.argv.slice(2));
// The handlers in this script's own form: handlers.js in the build, handlers.ts in the sources;
// with --stamp on, the same service whose Stream stamps its replies, on every lane.
const ext = path.extname(fileURLToPath(import.meta.url));
const stamped = f['stamp'] === 'on';
const workerModule = stamped ? new URL(`./stamped-handlers${ext}`, import.meta.url) : new URL(`../../examples/bench/handlers${ext}`, import.meta.url);
const lanes: Record<string, Lane> = {};
for (const m of (f['worker-methods'] ?? '').split(',').filter(Boolean)) lanes[m] = 'worker';
const interceptors: ServerInterceptor[] = [];
// Imported only for its case: the other cases load no OpenTelemetry module.
const tracing = f['interceptor'] === 'tracing' ? await (await import('../lib/tracing.js')).benchTracing() : undefined;
if (f['interceptor'] === 'pass') interceptors.push((_call, next) => next());
else if (tracing !== undefined) interceptors.push(tracing.server);
else if (f['interceptor'] !== undefined && f['interceptor'] !== 'none') throw new Error(`--interceptor ${f['interceptor']}: none, pass or tracing`);
for (const m of (f['actor-methods'] ?? '').split(',').filter(Boolean)) lanes[m] = 'actor';
const server = createServer({
  host: '127.0.0.1',
  port: Number(f['port'] ?? 0),
  workers: f['workers'] ? Number(f['workers']) : undefined,
  actorWorkers: f['actor-workers'] ? Number(f['actor-workers']) : undefined,
  maxActorQueue: f['max-actor-queue'] ? Number(f['max-actor-queue']) : undefined,
  responseRing: f['ring'] !== 'off',
  workerAtomics: f['atomics'] === 'sync' ? 'sync' : 'async',
  workerNice: f['worker-nice'] ? Number(f['worker-nice']) : undefined,
  reserveReactorCore: f['reserve'] === undefined ? undefined : f['reserve'] !== 'off',
  maxConnections: f['max-connections'] ? Number(f['max-connections']) : undefined,
  maxQueue: f['max-queue'] ? Number(f['max-queue']) : 4096,
  interceptors,
}).addService(Bench, stamped ? (await import('./stamped-handlers.js')).Bench : handlers, { lanes, workerModule });
const { port } = await server.listen();

process.stdout.write(`READY ${port}\n`);
process.on('SIGUSR2', () => process.stdout.write(`STATS ${JSON.stringify(server.stats(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`));
process.on(
  'SIGTERM',
  () =>
    void server
      .shutdown({ graceMs: 1000 })
      .then(() => tracing?.shutdown())
      .then(() => process.exit(0)),
);
