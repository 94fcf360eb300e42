import { writeFileSync } from 'node:fs';
import { loadProto } from '../codec/proto-loader.js';
import { generateTypes } from '../codec/generate-types.js';
import { UsageError, parseCommand, printHelp, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';

/** `ringrpc gen`: its usage and options, for the parser and `--help` alike. */
export const GEN_COMMAND = {
  name: 'gen',
  summary: COMMAND_SUMMARIES.gen,
  synopsis: 'gen <file.proto> [options]',
  description: `Generates a TypeScript module with an interface per message and a typed service
definition per service, for createClient() and server.addService().`,
  options: {
    out: { type: 'string', value: '<file.ts>', byDefault: 'stdout', help: 'write the module here' },
    'import-from': { type: 'string', value: '<module>', byDefault: 'ringrpc', help: 'module the generated code imports ringrpc from' },
  },
  positionals: true,
} as const satisfies CommandSpec;

/** `ringrpc gen`: typed stubs from a .proto. */
export async function gen(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommand(GEN_COMMAND, argv);
  if (parsed.help) return printHelp(GEN_COMMAND, io);
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('gen takes one .proto file', GEN_COMMAND);
  const file = positionals[0]!;
  const code = generateTypes(loadProto(file), { importFrom: values['import-from'] ?? GEN_COMMAND.options['import-from'].byDefault, sourceName: file });
  if (values.out) {
    writeFileSync(values.out, code);
    io.logger.info('generated', { from: file, to: values.out });
  } else {
    io.stdout.write(code);
  }
  return 0;
}
