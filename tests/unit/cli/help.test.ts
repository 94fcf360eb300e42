import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PassThrough } from 'node:stream';
import { commandSpecs, main } from '../../../src/cli/main.js';
import { createLogger } from '../../../src/cli/logger.js';
import { parseCommand, UsageError } from '../../../src/cli/command.js';

const test = suite('cli help');
const COMMAND_SPECS = await commandSpecs();

/** Runs the CLI in this process; stdout and stderr are captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(argv, { stdout, stderr, logger: createLogger(stderr, {}), env: {} });
  return { code, stdout: out, stderr: err };
}

/** The options a help text lists, as written at the start of its rows: `--proto`, `-c`. */
function listedOptions(help: string): string[] {
  const out: string[] = [];
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:(-[a-zA-Z]), )?(--[a-z][a-z-]*)/.exec(line);
    if (m) out.push(...(m[1] ? [m[1]] : []), m[2]!);
  }
  return out;
}

test('the CLI has the commands serve, call, bench, registry and gen', () => {
  assert.equal(COMMAND_SPECS.map((s) => s.name).sort(), ['bench', 'call', 'gen', 'registry', 'serve']);
});

for (const spec of COMMAND_SPECS) {
  for (const flag of ['--help', '-h']) {
    test(`${spec.name} ${flag} prints every option with its default and exits 0`, async () => {
      const r = await run([spec.name, flag]);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stderr, '');
      assert.ok(r.stdout.startsWith(`usage: ringrpc ${spec.name} `), r.stdout);
      const listed = listedOptions(r.stdout);
      for (const [name, o] of Object.entries(spec.options)) {
        assert.ok(listed.includes(`--${name}`), `--${name} is listed`);
        if (o.short !== undefined) assert.ok(listed.includes(`-${o.short}`), `-${o.short} is listed`);
        if (o.byDefault !== undefined) {
          const start = r.stdout.search(new RegExp(`\n  (-\\w, )?--${name}[ \n]`));
          const row = r.stdout
            .slice(start + 1)
            .split(/\n {2}-/)[0]!
            .replace(/\s+/g, ' ');
          assert.ok(row.includes(`default ${o.byDefault.replace(/\s+/g, ' ')}`), `--${name} shows its default: ${row}`);
        }
      }
      assert.ok(listed.includes('--help') && listed.includes('-h'));
    });
  }

  test(`${spec.name}: the parser takes every option its help lists, and no other`, async () => {
    const r = await run([spec.name, '--help']);
    const listed = listedOptions(r.stdout).filter((o) => o !== '--help' && o !== '-h');
    assert.ok(listed.length > 0);
    for (const option of listed) {
      const name = option.startsWith('--') ? option.slice(2) : Object.entries(spec.options).find(([, o]) => o.short === option.slice(1))![0];
      const argv = spec.options[name]!.type === 'string' ? [option, 'x'] : [option];
      const parsed = parseCommand(spec, argv);
      assert.is(parsed.help, false, `${option} parses`);
    }
    assert.throws(
      () => parseCommand(spec, ['--no-such-option']),
      (err: unknown) => err instanceof UsageError && /unknown option '--no-such-option'/.test(err.message),
    );
  });

  test(`${spec.name} with an unknown option exits 2 naming it and pointing to --help`, async () => {
    const r = await run([spec.name, '--frobnicate', '1']);
    assert.is(r.code, 2);
    assert.is(r.stdout, '');
    assert.match(r.stderr, `ringrpc ${spec.name}: unknown option '--frobnicate'\n`);
    assert.match(r.stderr, `usage: ringrpc ${spec.name} `);
    assert.match(r.stderr, `run 'ringrpc ${spec.name} --help' for its options`);
    const short = await run([spec.name, '-Z']);
    assert.is(short.code, 2);
    assert.match(short.stderr, `unknown option '-Z'`);
  });

  test(`ringrpc help ${spec.name} is ${spec.name} --help`, async () => {
    const viaHelp = await run(['help', spec.name]);
    const viaFlag = await run([spec.name, '--help']);
    assert.is(viaHelp.code, 0);
    assert.is(viaHelp.stdout, viaFlag.stdout);
  });
}

test('--help wins over everything else on the line, but not after --', async () => {
  const r = await run(['bench', '127.0.0.1:1', '--bogus', '--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^usage: ringrpc bench /);
  const after = await run(['gen', '--', '--help']);
  assert.is.not(after.code, 0, 'a positional named --help is not a request for help');
});

test('a missing option value is a usage error naming the option', async () => {
  const r = await run(['serve', '--proto']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^ringrpc serve: Option '--proto <value>' argument missing\n/);
});

test('the top level: --help and help exit 0 listing every command; no command exits 2', async () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await run(argv);
    assert.is(r.code, 0);
    for (const spec of COMMAND_SPECS) assert.match(r.stdout, `\n  ${spec.name} `);
    assert.match(r.stdout, /-h or --help/);
  }
  const none = await run([]);
  assert.is(none.code, 2);
  assert.match(none.stderr, /^usage: ringrpc <command>/);
  const unknown = await run(['help', 'frobnicate']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test.run();
