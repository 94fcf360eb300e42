import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadProto } from '../codec/proto-loader.js';
import { generateTypes } from '../codec/generate-types.js';
import { UsageError, type CommandIo } from './command.js';

export const GEN_USAGE = `ringrpc gen <file.proto> [--out <file.ts>] [--import-from <module>]

Generates a TypeScript module with an interface per message and a typed service
definition per service, for createClient() and server.addService().
  --out           write here instead of stdout
  --import-from   module to import ringrpc from (default "ringrpc")`;

/** `ringrpc gen`: typed stubs from a .proto. */
export async function gen(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, 'import-from': { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('gen takes one .proto file', GEN_USAGE);
  const file = positionals[0]!;
  const code = generateTypes(loadProto(file), { importFrom: values['import-from'], sourceName: file });
  if (values.out) {
    writeFileSync(values.out, code);
    io.logger.info('generated', { from: file, to: values.out });
  } else {
    io.stdout.write(code);
  }
  return 0;
}
