import { RpcError } from '../errors.js';
import { bench, BENCH_COMMAND } from './bench.js';
import { call, CALL_COMMAND } from './call.js';
import { UsageError, printHelp, usageLine, type CommandIo, type CommandSpec } from './command.js';
import { gen, GEN_COMMAND } from './gen.js';
import { serve, SERVE_COMMAND } from './serve.js';
import { registry, REGISTRY_COMMAND } from './registry.js';

type Run = (argv: string[], io: CommandIo) => Promise<number>;

/** The commands, in the order the help lists them. */
const COMMANDS: ReadonlyArray<{ readonly spec: CommandSpec; readonly run: Run }> = [
  { spec: SERVE_COMMAND, run: serve },
  { spec: CALL_COMMAND, run: call },
  { spec: BENCH_COMMAND, run: bench },
  { spec: REGISTRY_COMMAND, run: registry },
  { spec: GEN_COMMAND, run: gen },
];

const WIDTH = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;

/** The top-level help: the commands, and where each one's options are. */
export const USAGE = `usage: ringrpc <command> [options]

commands:
${COMMANDS.map(({ spec }) => `  ${spec.name.padEnd(WIDTH)}${spec.summary}`).join('\n')}
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
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (command === undefined) return unknownCommand(name, io);
  try {
    return await command.run(rest, io);
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
function help(argv: string[], io: CommandIo): number {
  if (argv.length === 0) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === argv[0]);
  if (command === undefined || argv.length > 1) return unknownCommand(argv.join(' '), io);
  return printHelp(command.spec, io);
}

function unknownCommand(name: string, io: CommandIo): number {
  io.stderr.write(`ringrpc: unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.spec.name).join(', ')}; see ringrpc --help)\n`);
  return 2;
}

/** Every command's spec, for tests and docs. */
export const COMMAND_SPECS: readonly CommandSpec[] = COMMANDS.map((c) => c.spec);
