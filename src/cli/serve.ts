import { accessLog } from '../interceptors/access-log.js';
import { bearerAuth, tokensFromFile } from '../interceptors/bearer-auth.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { loadServices } from '../codec/proto-loader.js';
import { loadConfig } from '../config/config.js';
import { createServer, type Server, type ServiceImplementation } from '../server/server.js';
import { SERVER_DEFAULTS } from '../server/server-options.js';
import { DEFAULT_WEIGHT } from '../registry/registry.js';
import type { Lane } from '../server/router.js';
import { channels } from '../util/diagnostics.js';
import { UsageError, envOf, parseCommand, printHelp, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';
import { announcement } from './logger.js';
import { importUserModule } from '../util/import-module.js';
import { findImplementation } from '../server/find-implementation.js';
import { SERVER_TLS_OPTIONS, serverTls } from './tls-flags.js';
import { parsePositiveInt } from './method-args.js';
import { serveMetrics, type MetricsServer } from '../observability/metrics-server.js';

/** The port `serve` listens on when neither a flag, the environment nor a config file names one. */
export const SERVE_DEFAULT_PORT = 7401;

/** `ringrpc serve`: its usage and options, for the parser and `--help` alike. */
export const SERVE_COMMAND = {
  name: 'serve',
  summary: COMMAND_SUMMARIES.serve,
  synopsis: 'serve --proto <file.proto> --handlers <module> [options]',
  description: `Starts a server with the services of the .proto that the handlers module implements.
The module exports one object of handlers per service, named after the service
(\`export const Bench = { echo, work }\`, or its full name in a default export).
A flag overrides its environment variable, which overrides the config file.`,
  options: {
    proto: { type: 'string', value: '<file.proto>', required: true, help: '.proto file defining the services' },
    handlers: { type: 'string', value: '<module>', required: true, help: 'handler module (.ts or .js)' },
    host: { type: 'string', value: '<host>', byDefault: SERVER_DEFAULTS.host, env: envOf('host'), help: 'interface to listen on' },
    port: { type: 'string', value: '<port>', byDefault: String(SERVE_DEFAULT_PORT), env: envOf('port'), help: 'port to listen on; 0 picks a free one' },
    config: { type: 'string', value: '<file>', env: 'RINGRPC_CONFIG', help: 'JSON config file' },
    'heartbeat-interval': {
      type: 'string',
      value: '<ms>',
      byDefault: String(SERVER_DEFAULTS.heartbeatIntervalMs),
      env: envOf('heartbeat-interval'),
      help: 'interval at which clients show life; a connection idle for\ninterval × (miss limit + 1) is closed',
    },
    'heartbeat-miss-limit': {
      type: 'string',
      value: '<n>',
      byDefault: String(SERVER_DEFAULTS.heartbeatMissLimit),
      env: envOf('heartbeat-miss-limit'),
      help: 'heartbeats a client may miss',
    },
    'max-frame-bytes': {
      type: 'string',
      value: '<n>',
      byDefault: String(SERVER_DEFAULTS.maxFrameBytes),
      env: envOf('max-frame-bytes'),
      help: 'largest frame (and decompressed body) accepted, in bytes',
    },
    'max-connections': { type: 'string', value: '<n>', byDefault: String(SERVER_DEFAULTS.maxConnections), help: 'open connections at most' },
    'call-timeout': {
      type: 'string',
      value: '<ms>',
      byDefault: `${SERVER_DEFAULTS.callTimeoutMs}: only the client's deadline`,
      env: envOf('call-timeout'),
      help: 'longest a call may take on this server; past it DEADLINE_EXCEEDED',
    },
    'metrics-port': {
      type: 'string',
      value: '<port>',
      byDefault: 'none',
      help: 'serve /metrics (Prometheus), /stats.json and a live status page (/)\non this port',
    },
    'metrics-host': {
      type: 'string',
      value: '<host>',
      byDefault: '127.0.0.1',
      help: 'interface of the metrics port; it is unauthenticated and lists\nclient addresses, so it stays local unless named here',
    },
    ...SERVER_TLS_OPTIONS,
    workers: { type: 'string', value: '<n>', byDefault: `one per core, ${SERVER_DEFAULTS.workers} here`, env: envOf('workers'), help: 'worker-lane threads' },
    'worker-methods': {
      type: 'string',
      value: '<A,B>',
      byDefault: 'none, all inline',
      help: 'methods that run on the worker lane;\neach worker loads the handlers module once',
    },
    'no-grpc': { type: 'boolean', help: 'serve ringrpc only: no gRPC clients (HTTP/2) on the port' },
    'auth-tokens': {
      type: 'string',
      value: '<file>',
      byDefault: 'none: calls need no token',
      help: 'accept only calls with one of these bearer tokens\n(one a line: <token> [name]); others UNAUTHENTICATED',
    },
    'actor-methods': {
      type: 'string',
      value: '<A,B>',
      byDefault: 'none',
      help: "methods that run on the actor lane: one at a time\nper key (Meta.key), against the key's state",
    },
    'actor-workers': {
      type: 'string',
      value: '<n>',
      byDefault: `one per core, ${SERVER_DEFAULTS.actorWorkers} here`,
      env: envOf('actor-workers'),
      help: 'actor-lane threads',
    },
    registry: {
      type: 'string',
      value: '<uri>',
      byDefault: 'none',
      env: envOf('registry'),
      help: 'announce the services in a registry (zk://h:p/root, ringrpc://h:p)\nonce listening; withdrawn first on shutdown',
    },
    'advertise-host': {
      type: 'string',
      value: '<host>',
      byDefault: 'the listening host; on 0.0.0.0 the first external IPv4 address',
      help: 'the host announced in the registry',
    },
    weight: { type: 'string', value: '<n>', byDefault: String(DEFAULT_WEIGHT), help: "the instance's weight in the registry" },
  },
  footer: 'Stops gracefully on SIGINT or SIGTERM. RINGRPC_LOG_LEVEL=debug logs one line per call (an access log).',
} as const satisfies CommandSpec;

/** `ringrpc serve`. Resolves when the server has shut down after a signal. */
export async function serve(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommand(SERVE_COMMAND, argv);
  if (parsed.help) return printHelp(SERVE_COMMAND, io);
  const { values } = parsed;
  if (!values.proto) throw new UsageError('serve needs --proto', SERVE_COMMAND);
  if (!values.handlers) throw new UsageError('serve needs --handlers', SERVE_COMMAND);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });
  const services = loadServices(values.proto);
  const module = await importUserModule(values.handlers);

  const server = createServer({
    host: config.host,
    port: config.port ?? SERVE_DEFAULT_PORT,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatMissLimit: config.heartbeatMissLimit,
    maxFrameBytes: config.maxFrameBytes,
    callTimeoutMs: config.callTimeoutMs,
    workers: config.workers,
    actorWorkers: config.actorWorkers,
    maxConnections: values['max-connections'] === undefined ? undefined : Number(values['max-connections']),
    tls: serverTls(values),
    grpc: values['no-grpc'] !== true,
    interceptors: [
      // First, so that it logs the calls authentication refuses too.
      ...(io.logger.enabled('debug') ? [accessLog((entry) => io.logger.debug('call', { ...entry }))] : []),
      ...(values['auth-tokens'] === undefined ? [] : [bearerAuth({ verify: tokensFromFile(values['auth-tokens']) })]),
    ],
    registry: config.registry,
    advertise: {
      host: values['advertise-host'],
      weight: values.weight === undefined ? undefined : parsePositiveInt('--weight', values.weight),
    },
  });
  const methodList = (flag: 'worker-methods' | 'actor-methods'): Set<string> =>
    new Set(
      (values[flag] ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    );
  const workerMethods = methodList('worker-methods');
  const actorMethods = methodList('actor-methods');
  const both = [...actorMethods].filter((m) => workerMethods.has(m));
  if (both.length > 0) throw new UsageError(`${both.join(', ')} named by both --worker-methods and --actor-methods`, SERVE_COMMAND);
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
        if (actorMethods.has(name)) {
          lanes[method.name] = 'actor';
          placed.add(name);
        }
      }
    }
    server.addService(service, impl as ServiceImplementation, { lanes, workerModule: values.handlers });
    added++;
    const on = (lane: Lane): string =>
      Object.keys(lanes)
        .filter((m) => lanes[m] === lane)
        .join(',') || 'none';
    io.logger.info('service added', {
      service: service.name,
      methods: Object.keys(service.methods).join(','),
      workerLane: on('worker'),
      actorLane: on('actor'),
    });
  }
  for (const [flag, names] of [
    ['--worker-methods', workerMethods],
    ['--actor-methods', actorMethods],
  ] as const) {
    const unknown = [...names].filter((m) => !placed.has(m));
    if (unknown.length > 0) throw new RpcError(Status.INVALID_ARGUMENT, `${flag} names ${unknown.join(', ')}, not a method of the implemented services`);
  }
  if (added === 0) {
    const names = services.map((s) => s.name).join(', ') || 'none';
    throw new RpcError(
      Status.NOT_FOUND,
      `${values.handlers} implements none of the services of ${values.proto} (${names}); export an object named after a service`,
    );
  }

  const unsubscribe = logServerEvents(io);
  const address = await server.listen();
  if (workerMethods.size > 0) io.logger.info('worker lane started', { workers: server.options.workers });
  if (actorMethods.size > 0) io.logger.info('actor lane started', { workers: server.options.actorWorkers });
  const { host, port } = address;
  io.stdout.write(announcement(`ringrpc listening on ${host}:${port}`, 'ringrpc listening', { address: `${host}:${port}`, host, port }, io.env));
  let metrics: MetricsServer | undefined;
  if (values['metrics-port'] !== undefined) {
    const metricsHost = values['metrics-host'] ?? '127.0.0.1';
    metrics = await serveMetrics(server, { port: Number(values['metrics-port']), host: metricsHost });
    const url = `http://${metricsHost}:${metrics.port}/metrics`;
    io.stdout.write(announcement(`ringrpc metrics on ${url}`, 'ringrpc metrics', { url, host: metricsHost, port: metrics.port }, io.env));
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
