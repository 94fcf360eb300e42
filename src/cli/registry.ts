import { RegistryServer } from '../registry/registry-server.js';
import { channels } from '../util/diagnostics.js';
import { UsageError, parseCommand, printHelp, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';

/** The port `ringrpc registry` listens on by default. */
export const REGISTRY_DEFAULT_PORT = 7400;

/** `ringrpc registry`: its usage and options, for the parser and `--help` alike. */
export const REGISTRY_COMMAND = {
  name: 'registry',
  summary: COMMAND_SUMMARIES.registry,
  synopsis: 'registry [options]',
  description: `Runs the built-in registry: servers started with --registry ringrpc://<host>:<port>
announce themselves in it, and clients, call and bench find them through it. Providers
hold leases renewed by heartbeats; watchers are told of changes as they happen. State is
in memory: after a restart providers register again by themselves.`,
  options: {
    host: { type: 'string', value: '<host>', byDefault: '127.0.0.1', help: 'interface to listen on' },
    port: { type: 'string', value: '<port>', byDefault: String(REGISTRY_DEFAULT_PORT), help: 'port to listen on; 0 picks a free one' },
  },
  positionals: true,
  footer: 'Stops gracefully on SIGINT or SIGTERM.',
} as const satisfies CommandSpec;

/** `ringrpc registry`. Resolves once stopped by a signal. */
export async function registry(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommand(REGISTRY_COMMAND, argv);
  if (parsed.help) return printHelp(REGISTRY_COMMAND, io);
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`registry takes no arguments (got ${positionals.join(' ')})`, REGISTRY_COMMAND);
  const port = values.port === undefined ? REGISTRY_DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number (got ${JSON.stringify(values.port)})`, REGISTRY_COMMAND);
  const host = values.host ?? REGISTRY_COMMAND.options.host.byDefault;

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
