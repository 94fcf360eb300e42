import { parseArgs } from 'node:util';
import { CONFIG_KEYS } from '../config/config.js';
import type { Logger } from './logger.js';

/** What a CLI command reads and writes (injected, so that tests can capture it). */
export interface CommandIo {
  /** Where `call` reads requests from with `-` (default: `process.stdin`). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * One option of a command: how `node:util` parseArgs reads it, and what `--help` says of
 * it. The same table drives both, so the help lists exactly the options the parser takes.
 */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The option may be given more than once; its values come as an array. */
  readonly multiple?: boolean;
  /** Placeholder of the value in the help, e.g. `<ms>`; string options only. */
  readonly value?: string;
  /** What the option does; `\n` starts a continuation line. */
  readonly help: string;
  /**
   * What applies when the option is not given, as the help prints it. Only for the help:
   * parseArgs is not told, so an unset flag stays unset and the environment and config
   * file may still set the value (see `loadConfig`).
   */
  readonly byDefault?: string;
  /** The command refuses to run without it. */
  readonly required?: boolean;
  /** The environment variable that also sets it, below the flag (see {@link envOf}). */
  readonly env?: string;
}

/** A command's options, by long name (without the `--`). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** A CLI command's interface: its synopsis, prose and option table. */
export interface CommandSpec<T extends OptionTable = OptionTable> {
  readonly name: string;
  /** One line, for the list of commands. */
  readonly summary: string;
  /** What follows `ringrpc` on the usage line: `serve --proto <file.proto> … [options]`. */
  readonly synopsis: string;
  /** Paragraphs printed between the usage line and the options. */
  readonly description: string;
  readonly options: T;
  /** The command takes positional arguments. */
  readonly positionals?: boolean;
  /** Printed after the options. */
  readonly footer?: string;
}

/** Every command answers `-h` and `--help`. */
const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'print this help and exit' };

/** A wrong command line: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command: CommandSpec,
  ) {
    super(message);
  }
}

/** The parsed values, typed after the option table as parseArgs would type them. */
export type OptionValues<T extends OptionTable> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? (T[K]['multiple'] extends true ? boolean[] : boolean) : T[K]['multiple'] extends true ? string[] : string;
};

/** The outcome of parsing: the values and positionals, or a request for help. */
export type Parsed<T extends OptionTable> =
  | { readonly help: true }
  | { readonly help: false; readonly values: OptionValues<T>; readonly positionals: string[] };

/**
 * Parses a command's arguments with `node:util` parseArgs (strict), after its option table.
 * `-h` or `--help` anywhere before `--` asks for help, whatever else the line holds. An
 * unknown option, or a malformed one, is a {@link UsageError} naming it.
 */
export function parseCommand<T extends OptionTable>(spec: CommandSpec<T>, argv: readonly string[]): Parsed<T> {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  if (head.includes('--help') || head.includes('-h')) return { help: true };
  const options = parseArgsOptions(spec.options);
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: spec.positionals === true, strict: true });
    return { help: false, values: values as OptionValues<T>, positionals };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const unknown = firstUnknownOption(argv, options);
      if (unknown !== undefined) throw new UsageError(`unknown option '${unknown}'`, spec);
    }
    throw new UsageError((err as Error).message, spec);
  }
}

/** The parseArgs configuration of a table: type, short and multiple, and nothing else. */
function parseArgsOptions(table: OptionTable): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...table, help: HELP_OPTION })) {
    out[name] = { type: o.type, ...(o.short !== undefined ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  return out;
}

/** The first option on the line the table does not know, as written (`--bogus`, `-x`). */
function firstUnknownOption(argv: readonly string[], options: ReturnType<typeof parseArgsOptions>): string | undefined {
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  const shorts = new Set(Object.values(options).map((o) => o.short));
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const known = token.rawName.startsWith('--') ? Object.hasOwn(options, token.name) : shorts.has(token.name);
    if (!known) return token.rawName;
  }
  return undefined;
}

/** `ringrpc <synopsis>`, the usage line. */
export function usageLine(spec: CommandSpec): string {
  return `usage: ringrpc ${spec.synopsis}`;
}

/** Columns of help text after which a note (default, env) goes on a line of its own. */
const NOTE_FITS = 72;

/** The full help of a command: usage line, description, then every option with its default. */
export function formatHelp(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, help: HELP_OPTION }).map(([name, o]) => {
    const flag = `${o.short !== undefined ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
    const notes = [
      o.required ? 'required' : undefined,
      o.multiple ? 'repeatable' : undefined,
      o.byDefault !== undefined ? `default ${o.byDefault}` : undefined,
      o.env !== undefined ? `env ${o.env}` : undefined,
    ].filter(Boolean);
    const lines = o.help.split('\n');
    if (notes.length > 0) {
      const note = `(${notes.join('; ')})`;
      if (lines[lines.length - 1]!.length + 1 + note.length <= NOTE_FITS) lines[lines.length - 1] += ` ${note}`;
      else lines.push(note);
    }
    return { flag, lines };
  });
  const width = Math.min(30, Math.max(...rows.map((r) => r.flag.length))) + 2;
  const indent = ' '.repeat(2 + width);
  const options = rows.map(({ flag, lines }) => {
    const first = flag.length + 2 > width ? `  ${flag}\n${indent}${lines[0]}` : `  ${flag.padEnd(width)}${lines[0]}`;
    return [first, ...lines.slice(1).map((l) => `${indent}${l}`)].join('\n');
  });
  return [usageLine(spec), '', spec.description, '', 'options:', ...options, ...(spec.footer !== undefined ? ['', spec.footer] : [])].join('\n');
}

/** The environment variable that also sets the flag `--name`, from the config key table. */
export function envOf(name: string): string {
  const row = CONFIG_KEYS.find((r) => r.flag === name);
  if (row === undefined) throw new Error(`--${name} is not a config key`);
  return row.env;
}

/** Writes a command's help to stdout; returns exit code 0. */
export function printHelp(spec: CommandSpec, io: CommandIo): number {
  io.stdout.write(`${formatHelp(spec)}\n`);
  return 0;
}
