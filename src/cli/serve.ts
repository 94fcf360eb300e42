import { parseArgs } from 'node:util';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { loadServices } from '../codec/proto-loader.js';
import type { ServiceDefinition } from '../codec/service-definition.js';
import { loadConfig } from '../config/config.js';
import { createServer, type Server } from '../server/server.js';
import { channels } from '../util/diagnostics.js';
import { UsageError, type CommandIo } from './command.js';
import { importUserModule } from './load-module.js';

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
  });
  let added = 0;
  for (const service of services) {
    const impl = findImplementation(module, service);
    if (impl === undefined) continue;
    server.addService(service, impl);
    added++;
    io.logger.info('service added', { service: service.name, methods: Object.keys(service.methods).join(',') });
  }
  if (added === 0) {
    const names = services.map((s) => s.name).join(', ') || 'none';
    throw new RpcError(Status.NOT_FOUND, `${values.handlers} implements none of the services of ${values.proto} (${names}); export an object named after a service`);
  }

  const unsubscribe = logServerEvents(io);
  const address = await server.listen();
  io.stdout.write(`ringrpc listening on ${address.host}:${address.port}\n`);
  await waitForSignal(server, io);
  unsubscribe();
  return 0;
}

function findImplementation(module: Record<string, unknown>, service: ServiceDefinition): object | undefined {
  const short = service.name.slice(service.name.lastIndexOf('.') + 1);
  const fallback = module['default'] as Record<string, unknown> | undefined;
  for (const candidate of [module[service.name], module[short], fallback?.[service.name], fallback?.[short]]) {
    if (candidate !== null && typeof candidate === 'object') return candidate;
  }
  return undefined;
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
  channels.serverConnectionClose.subscribe(onClose);
  channels.serverOnewayError.subscribe(onOneway);
  return () => {
    channels.serverConnectionClose.unsubscribe(onClose);
    channels.serverOnewayError.unsubscribe(onOneway);
  };
}
