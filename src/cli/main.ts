import { RpcError } from '../errors.js';
import { UsageError, printHelp, usageLine, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES, type CommandName } from './command-summaries.js';

type Run = (argv: string[], io: CommandIo) => Promise<number>;

/** A command, loaded: its spec (options, help) and what runs it. */
interface LoadedCommand {
  readonly spec: CommandSpec;
  readonly run: Run;
}

/**
 * The commands, in the order the help lists them, each loaded only when it is used: the
 * top-level help needs none, and `ringrpc call` needs neither the server nor the bench's
 * report (all of them loaded at start made every run of the CLI half a second slower).
 */
const COMMANDS: Readonly<Record<CommandName, () => Promise<LoadedCommand>>> = {
  serve: async () => {
    const m = await import('./serve.js');
    return { spec: m.SERVE_COMMAND, run: m.serve };
  },
  call: async () => {
    const m = await import('./call.js');
    return { spec: m.CALL_COMMAND, run: m.call };
  },
  bench: async () => {
    const m = await import('./bench.js');
    return { spec: m.BENCH_COMMAND, run: m.bench };
  },
  registry: async () => {
    const m = await import('./registry.js');
    return { spec: m.REGISTRY_COMMAND, run: m.registry };
  },
  gen: async () => {
    const m = await import('./gen.js');
    return { spec: m.GEN_COMMAND, run: m.gen };
  },
};
const NAMES = Object.keys(COMMAND_SUMMARIES) as CommandName[];

function commandNamed(name: string): (() => Promise<LoadedCommand>) | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name as CommandName] : undefined;
}

const WIDTH = Math.max(...NAMES.map((name) => name.length)) + 2;

/** The top-level help: the commands, and where each one's options are. */
export const USAGE = `usage: ringrpc <command> [options]

commands:
${NAMES.map((name) => `  ${name.padEnd(WIDTH)}${COMMAND_SUMMARIES[name]}`).join('\n')}
  ${'help'.padEnd(WIDTH)}print the help of a command: ringrpc help <command>

Every command prints its options and their defaults with -h or --help.`;

/** Runs the CLI; returns the exit code. Every failure is one line on stderr (usage errors add the usage line). */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name === 'help') return help(rest, io);
  const load = commandNamed(name);
  if (load === undefined) return unknownCommand(name, io);
  try {
    return await (await load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`ringrpc ${name}: ${err.message}\n${usageLine(err.command)}\nrun 'ringrpc ${name} --help' for its options\n`);
      return 2;
    }
    const e = RpcError.from(err);
    io.stderr.write(`ringrpc ${name}: ${e.codeName}: ${e.rawMessage}\n`);
    return 1;
  }
}

/** `ringrpc help [command]`. */
async function help(argv: string[], io: CommandIo): Promise<number> {
  if (argv.length === 0) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const load = commandNamed(argv[0]!);
  if (load === undefined || argv.length > 1) return unknownCommand(argv.join(' '), io);
  try {
    return printHelp((await load()).spec, io);
  } catch (err) {
    const e = RpcError.from(err);
    io.stderr.write(`ringrpc help ${argv[0]}: ${e.codeName}: ${e.rawMessage}\n`);
    return 1;
  }
}

function unknownCommand(name: string, io: CommandIo): number {
  io.stderr.write(`ringrpc: unknown command ${JSON.stringify(name)} (commands: ${NAMES.join(', ')}; see ringrpc --help)\n`);
  return 2;
}

/** Every command's spec, in the order the help lists them (loads every command), for tests and docs. */
export async function commandSpecs(): Promise<CommandSpec[]> {
  return Promise.all(NAMES.map(async (name) => (await COMMANDS[name]()).spec));
}
