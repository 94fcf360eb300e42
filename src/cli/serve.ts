import { parseArgs } from 'node:util';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { loadServices } from '../codec/proto-loader.js';
import { loadConfig } from '../config/config.js';
import { createServer, type Server, type ServiceImplementation } from '../server/server.js';
import type { Lane } from '../server/router.js';
import { channels } from '../util/diagnostics.js';
import { UsageError, type CommandIo } from './command.js';
import { importUserModule } from '../util/import-module.js';
import { findImplementation } from '../server/find-implementation.js';
import { TLS_FLAGS, serverTls } from './tls-flags.js';
import { parsePositiveInt } from './method-args.js';
import { serveMetrics, type MetricsServer } from '../observability/metrics-server.js';

export const SERVE_USAGE = `ringrpc serve --proto <file.proto> --handlers <module> [options]

Starts a server with the services of the .proto that the handlers module implements.
The module exports one object of handlers per service, named after the service
(\`export const Bench = { echo, work }\`, or its full name in a default export).
  --proto                 .proto file defining the services
  --handlers              handler module (.ts or .js)
  --host, --port          where to listen (default 0.0.0.0:7401)
  --config                JSON config file (also RINGRPC_CONFIG)
  --heartbeat-interval    ms; with --heartbeat-miss-limit sets the idle limit
  --heartbeat-miss-limit
  --max-frame-bytes
  --max-connections <n>   open connections at most (default 10000)
  --call-timeout <ms>     longest a call may take on this server; past it DEADLINE_EXCEEDED
                          (default 0: only the client's deadline)
  --metrics-port <p>      serve /metrics (Prometheus), /stats.json and a live status page (/) on this port
  --tls-cert, --tls-key   serve TLS with this certificate and key (PEM files)
  --tls-ca                with TLS: require client certificates signed by this CA (mutual TLS)
  --workers <n>           worker-lane threads (default: one per core)
  --worker-methods <A,B>  methods that run on the worker lane (default: none, all inline);
                          each worker loads the handlers module once
  --registry <uri>        announce the services in a registry (zk://h:p/root, ringrpc://h:p)
                          once listening; withdrawn first on shutdown
  --advertise-host <h>    the host announced in the registry (default: the listening host,
                          or the first external IPv4 address when listening on 0.0.0.0)
  --weight <n>            the instance's weight in the registry (default 100)
Stops gracefully on SIGINT or SIGTERM.`;

/** `ringrpc serve`. Resolves when the server has shut down after a signal. */
export async function serve(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      proto: { type: 'string' },
      handlers: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      config: { type: 'string' },
      'heartbeat-interval': { type: 'string' },
      'heartbeat-miss-limit': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'call-timeout': { type: 'string' },
      workers: { type: 'string' },
      'worker-methods': { type: 'string' },
      'max-connections': { type: 'string' },
      'metrics-port': { type: 'string' },
      registry: { type: 'string' },
      'advertise-host': { type: 'string' },
      weight: { type: 'string' },
      ...TLS_FLAGS,
    },
  });
  if (!values.proto) throw new UsageError('serve needs --proto', SERVE_USAGE);
  if (!values.handlers) throw new UsageError('serve needs --handlers', SERVE_USAGE);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });
  const services = loadServices(values.proto);
  const module = await importUserModule(values.handlers);

  const server = createServer({
    host: config.host,
    port: config.port ?? 7401,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatMissLimit: config.heartbeatMissLimit,
    maxFrameBytes: config.maxFrameBytes,
    callTimeoutMs: config.callTimeoutMs,
    workers: config.workers,
    maxConnections: values['max-connections'] === undefined ? undefined : Number(values['max-connections']),
    tls: serverTls(values),
    registry: config.registry,
    advertise: {
      host: values['advertise-host'],
      weight: values.weight === undefined ? undefined : parsePositiveInt('--weight', values.weight),
    },
  });
  const workerMethods = new Set((values['worker-methods'] ?? '').split(',').map((m) => m.trim()).filter(Boolean));
  const placed = new Set<string>();
  let added = 0;
  for (const service of services) {
    const impl = findImplementation(module, service);
    if (impl === undefined) continue;
    const lanes: Record<string, Lane> = {};
    for (const method of Object.values(service.methods)) {
      for (const name of [method.name, method.localName, method.path]) {
        if (workerMethods.has(name)) {
          lanes[method.name] = 'worker';
          placed.add(name);
        }
      }
    }
    server.addService(service, impl as ServiceImplementation, { lanes, workerModule: values.handlers });
    added++;
    const onWorkers = Object.keys(lanes);
    io.logger.info('service added', { service: service.name, methods: Object.keys(service.methods).join(','), workerLane: onWorkers.join(',') || 'none' });
  }
  const unknown = [...workerMethods].filter((m) => !placed.has(m));
  if (unknown.length > 0) throw new RpcError(Status.INVALID_ARGUMENT, `--worker-methods names ${unknown.join(', ')}, not a method of the implemented services`);
  if (added === 0) {
    const names = services.map((s) => s.name).join(', ') || 'none';
    throw new RpcError(Status.NOT_FOUND, `${values.handlers} implements none of the services of ${values.proto} (${names}); export an object named after a service`);
  }

  const unsubscribe = logServerEvents(io);
  const address = await server.listen();
  if (workerMethods.size > 0) io.logger.info('worker lane started', { workers: server.options.workers });
  io.stdout.write(`ringrpc listening on ${address.host}:${address.port}\n`);
  let metrics: MetricsServer | undefined;
  if (values['metrics-port'] !== undefined) {
    metrics = await serveMetrics(server, { port: Number(values['metrics-port']), host: config.host });
    io.stdout.write(`ringrpc metrics on http://${address.host}:${metrics.port}/metrics\n`);
  }
  await waitForSignal(server, io);
  await metrics?.close();
  unsubscribe();
  return 0;
}

function waitForSignal(server: Server, io: CommandIo): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.logger.info('shutting down', { signal });
      server.shutdown().then(() => {
        io.logger.info('stopped');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function logServerEvents(io: CommandIo): () => void {
  const onClose = (message: unknown): void => {
    const m = message as { peer: string; reason: string; message: string };
    io.logger.info(m.reason === 'idle' ? 'idle connection closed' : 'connection closed', { peer: m.peer, reason: m.reason, detail: m.message });
  };
  const onOneway = (message: unknown): void => {
    const m = message as { service: string; method: string; error: Error };
    io.logger.warn('oneway handler failed', { method: `${m.service}/${m.method}`, error: m.error.message });
  };
  const onRegistry = (message: unknown): void => {
    const m = message as { uri: string; event: string; service?: string; address?: string; error?: Error };
    const fields = { registry: m.uri, service: m.service, address: m.address, error: m.error?.message };
    if (m.event === 'registered' || m.event === 'deregistered' || m.event === 'connected') io.logger.info(`registry: ${m.event}`, fields);
    else io.logger.warn(`registry: ${m.event}`, fields);
  };
  channels.serverConnectionClose.subscribe(onClose);
  channels.serverOnewayError.subscribe(onOneway);
  channels.registry.subscribe(onRegistry);
  return () => {
    channels.serverConnectionClose.unsubscribe(onClose);
    channels.serverOnewayError.unsubscribe(onOneway);
    channels.registry.unsubscribe(onRegistry);
  };
}
