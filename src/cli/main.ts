import { RpcError } from '../errors.js';
import { bench, BENCH_USAGE } from './bench.js';
import { call, CALL_USAGE } from './call.js';
import { UsageError, type CommandIo } from './command.js';
import { gen, GEN_USAGE } from './gen.js';
import { serve, SERVE_USAGE } from './serve.js';
import { registry, REGISTRY_USAGE } from './registry.js';

const COMMANDS: Record<string, (argv: string[], io: CommandIo) => Promise<number>> = { serve, call, bench, registry, gen };

const USAGE = `usage: ringrpc <command> [options]

commands:
  serve   start a server for a .proto and a handlers module
  call    call one method and print the reply as JSON
  bench   run a load against a method: req/s, errors, latency percentiles, HTML report
  registry  run the built-in service registry (ringrpc://host:port)
  gen     generate TypeScript types and service definitions from a .proto

${SERVE_USAGE}

${CALL_USAGE}

${BENCH_USAGE}

${REGISTRY_USAGE}

${GEN_USAGE}`;

/** Runs the CLI; returns the exit code. Every failure is one line on stderr. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`ringrpc: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`ringrpc ${name}: ${err.message}\n\n${err.usage}\n`);
      return 2;
    }
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`ringrpc ${name}: ${(err as Error).message}\n`);
      return 2;
    }
    const e = RpcError.from(err);
    io.stderr.write(`ringrpc ${name}: ${e.codeName}: ${e.rawMessage}\n`);
    return 1;
  }
}
