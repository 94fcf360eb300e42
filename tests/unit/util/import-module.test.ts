import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { importUserModule, nodeStripsTypes } from '../../../src/util/import-module.js';
import { Status } from '../../../src/status.js';

/**
 * importUserModule's rule for TypeScript, end to end: this process runs under tsx's hooks,
 * so each case runs in a child `node` (no hooks) on the compiled module (npm test builds
 * it), with tsx either installed (this project's) or hidden by a resolve hook.
 */
const test = suite('import-module');
const run = promisify(execFile);
const COMPILED = pathToFileURL(path.resolve('dist/src/util/import-module.js')).href;
const NATIVE = nodeStripsTypes();
const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-import-'));

const files: Record<string, string> = {
  'package.json': '{ "type": "module" }',
  'plain.ts': 'export const value: string = "plain";',
  'sibling.ts': 'import { one } from "./one.js";\nexport const value: number = one + 1;',
  'one.ts': 'export const one: number = 1;',
  'enum.ts': 'enum Kind { A = 7 }\nexport const value = Kind.A;',
  'throws.ts': '(globalThis as any).runs = ((globalThis as any).runs ?? 0) + 1;\nthrow new Error("handler module failed");',
  'script.js': 'export const value = "js";',
};
for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);

const HIDE_TSX = `data:text/javascript,${encodeURIComponent(
  `export async function resolve(s, c, next) {
     if (s === 'tsx' || s.startsWith('tsx/')) throw Object.assign(new Error("Cannot find package 'tsx' imported from " + c.parentURL), { code: 'ERR_MODULE_NOT_FOUND' });
     return next(s, c);
   }`,
)}`;

interface Outcome {
  value?: unknown;
  code?: number;
  message?: string;
  runs?: number;
}

/** Loads each file in a fresh child process; returns value or error per file. */
async function load(names: string[], withTsx: boolean): Promise<Record<string, Outcome>> {
  const script = `
    import { register } from 'node:module';
    if (${!withTsx}) register(${JSON.stringify(HIDE_TSX)});
    const { importUserModule } = await import(${JSON.stringify(COMPILED)});
    const out = {};
    for (const name of ${JSON.stringify(names)}) {
      try { out[name] = { value: (await importUserModule(name)).value }; }
      catch (e) { out[name] = { code: e.code, message: e.message, runs: globalThis.runs }; }
    }
    process.stdout.write(JSON.stringify(out));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(stdout) as Record<string, Outcome>;
}

test('JavaScript loads as is; a missing file is NOT_FOUND', async () => {
  assert.is((await importUserModule(path.join(dir, 'script.js')))['value'], 'js');
  try {
    await importUserModule(path.join(dir, 'missing.ts'));
    assert.unreachable('a missing module must fail');
  } catch (err) {
    assert.is((err as { code: number }).code, Status.NOT_FOUND);
  }
});

test('with tsx installed, TypeScript that needs more than stripping loads on every Node', async () => {
  const out = await load(['plain.ts', 'sibling.ts', 'enum.ts', 'script.js'], true);
  assert.equal(out, { 'plain.ts': { value: 'plain' }, 'sibling.ts': { value: 2 }, 'enum.ts': { value: 7 }, 'script.js': { value: 'js' } });
});

test('without tsx: erasable TypeScript loads natively where Node strips types, else the error names npm install tsx', async () => {
  const out = await load(['plain.ts', 'enum.ts', 'sibling.ts', 'script.js'], false);
  assert.equal(out['script.js'], { value: 'js' });
  if (NATIVE) {
    assert.equal(out['plain.ts'], { value: 'plain' }, 'loaded by Node itself');
    for (const name of ['enum.ts', 'sibling.ts']) {
      assert.is(out[name]!.code, Status.FAILED_PRECONDITION, name);
      assert.match(out[name]!.message!, `cannot load module ${name} with Node's type stripping`);
      assert.match(out[name]!.message!, 'npm install tsx');
    }
  } else {
    for (const name of ['plain.ts', 'enum.ts', 'sibling.ts']) {
      assert.is(out[name]!.code, Status.FAILED_PRECONDITION, name);
      assert.match(out[name]!.message!, `cannot load module ${name}: TypeScript handler modules on Node < 22.18 need tsx: run \`npm install tsx\``);
    }
  }
});

test("a module's own error is reported once, not retried through tsx", async () => {
  const out = await load(['throws.ts'], true);
  assert.is(out['throws.ts']!.code, Status.INVALID_ARGUMENT);
  assert.match(out['throws.ts']!.message!, 'cannot load module throws.ts: handler module failed');
  assert.is(out['throws.ts']!.runs, 1, 'its code ran once');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
