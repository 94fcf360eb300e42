import { parseArgs } from 'node:util';
import { RegistryServer } from '../registry/registry-server.js';
import { channels } from '../util/diagnostics.js';
import { UsageError, type CommandIo } from './command.js';

export const REGISTRY_USAGE = `ringrpc registry [--host <h>] [--port <p>]

Runs the built-in registry: servers started with --registry ringrpc://<host>:<port>
announce themselves in it, and clients, call and bench find them through it. Providers
hold leases renewed by heartbeats; watchers are told of changes as they happen. State is
in memory: after a restart providers register again by themselves.
  --host    interface to listen on (default 127.0.0.1)
  --port    port (default 7400)
Stops gracefully on SIGINT or SIGTERM.`;

/** `ringrpc registry`. Resolves once stopped by a signal. */
export async function registry(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { host: { type: 'string' }, port: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageError(`registry takes no arguments (got ${positionals.join(' ')})`, REGISTRY_USAGE);
  const port = values.port === undefined ? 7400 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got ${JSON.stringify(values.port)})`, REGISTRY_USAGE);
  const host = values.host ?? '127.0.0.1';

  const onEvent = (message: unknown): void => {
    const m = message as { event: string; service?: string; address?: string };
    io.logger.info(m.event, { service: m.service, address: m.address });
  };
  channels.registry.subscribe(onEvent);
  const server = new RegistryServer({ host, port });
  const address = await server.listen();
  io.stdout.write(`ringrpc registry on ringrpc://${address.host}:${address.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.logger.info('shutting down', { signal });
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  channels.registry.unsubscribe(onEvent);
  return 0;
}
