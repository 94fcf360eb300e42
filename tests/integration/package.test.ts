import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeStripsTypes } from '../../src/util/import-module.js';

/**
 * The package as a user gets it: `npm pack` of the build (npm test's pretest builds it),
 * its file list, then an install of the tarball into a scratch project (dependencies from
 * npm's local cache where it has them), where a server with a worker-lane method is
 * started and called from plain JavaScript and from TypeScript type-checked against the
 * installed types, and the installed `ringrpc` bin runs. Checks what the package does,
 * not where files sit inside dist, except for the generic rules on what may ship.
 */
const test = suite('npm package');
const exec = promisify(execFile);
const ROOT = process.cwd();
const NATIVE_TS = nodeStripsTypes();
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  name: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

const work = mkdtempSync(path.join(tmpdir(), 'ringrpc-package-'));
const project = path.join(work, 'project');
const installed = path.join(project, 'node_modules', pkg.name);
const children = new Set<ChildProcess>();
let files: string[] = [];

/** Runs a command to completion with a time limit; its output is in the error when it fails. */
async function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(file, args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...process.env, NODE_OPTIONS: '' } });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string; killed?: boolean };
    // The message has the command and its stderr.
    throw new Error(`in ${cwd}${e.killed ? `, killed after ${timeout} ms` : ''}: ${e.message}\n${e.stdout ?? ''}`);
  }
}

const node = (args: string[], timeout?: number) => run(process.execPath, args, project, timeout);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd, 120_000);

function write(name: string, text: string): void {
  mkdirSync(path.dirname(path.join(project, name)), { recursive: true });
  writeFileSync(path.join(project, name), text);
}

test.before(async () => {
  if (!existsSync(path.join(ROOT, pkg.main))) throw new Error(`${pkg.main} is missing: run "npm run build" first (npm test's pretest does)`);
  // --ignore-scripts: prepare would rebuild what the pretest just built.
  const { stdout } = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT);
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>;
  files = packed!.files.map((f) => f.path).sort();
  const bin = packed!.files.find((f) => f.path === Object.values(pkg.bin)[0]);
  assert.ok(bin !== undefined && (bin.mode & 0o111) !== 0, `the bin ${Object.values(pkg.bin)[0]} is in the tarball and executable`);

  write('package.json', JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await npm(['install', '--prefer-offline', path.join(work, path.basename(packed!.filename))], project);
  // The TypeScript check uses this project's compiler and Node types, linked, not installed.
  for (const dep of ['typescript', '@types/node']) {
    mkdirSync(path.dirname(path.join(project, 'node_modules', dep)), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(project, 'node_modules', dep), 'dir');
  }
});

test('the tarball holds the library, its types, the CLI, the workers and the protos, and nothing else', () => {
  const required = new Set(['package.json', 'README.md', 'LICENSE', pkg.main, pkg.types, ...Object.values(pkg.bin)]);
  for (const target of Object.values(pkg.exports)) for (const file of typeof target === 'string' ? [target] : Object.values(target)) required.add(file);
  for (const file of required) assert.ok(files.includes(file.replace(/^\.\//, '')), `${file} is in the tarball`);
  assert.ok(
    files.some((f) => /^proto\/.*\.proto$/.test(f)),
    'the protos are in the tarball',
  );
  // The worker entry points are proven by the worker-lane calls below, wherever the build puts them.

  const stray = files.filter(
    (f) => !['package.json', 'README.md', 'LICENSE'].includes(f) && !/^dist\/.*\.(js|d\.ts|js\.map)$/.test(f) && !/^proto\/.*\.proto$/.test(f),
  );
  assert.equal(stray, [], 'only the build, its types and maps, and the protos');
  const dev = files.filter(
    (f) => /^(dist\/)?(tests|bench|examples|scripts|docs)\//.test(f) || /(?<!\.d)\.[cm]?tsx?$/.test(f) || /dev-bootstrap|\.tsbuildinfo$/.test(f),
  );
  assert.equal(dev, [], 'no tests, bench, examples, scripts or TypeScript sources');
  for (const js of files.filter((f) => f.endsWith('.js'))) {
    assert.ok(files.includes(`${js}.map`), `${js} has its source map`);
    assert.ok(files.includes(js.replace(/\.js$/, '.d.ts')), `${js} has its types`);
  }
});

test('source maps carry their sources, since the TypeScript is not shipped', () => {
  const maps = files.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 0);
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(path.join(installed, map), 'utf8')) as {
      sources: string[];
      sourcesContent?: Array<string | null>;
    };
    const dangling = sources.filter((s, i) => typeof sourcesContent?.[i] !== 'string' && !existsSync(path.resolve(path.dirname(path.join(installed, map)), s)));
    assert.equal(dangling, [], `${map} points only at what it carries`);
  }
});

test('every subpath in exports resolves and loads from the installed package', async () => {
  const subpaths = Object.keys(pkg.exports).map((key) => `${pkg.name}${key.slice(1)}`);
  const script = `for (const s of ${JSON.stringify(subpaths)}) { const m = await import(s, s.endsWith('.json') ? { with: { type: 'json' } } : undefined); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); }`;
  await node(['--input-type=module', '-e', script]);
});

test('the optional peers, tsx, zookeeper and @opentelemetry/api, are not installed with it', () => {
  assert.ok(existsSync(path.join(project, 'node_modules', 'piscina')), 'dependencies are installed');
  assert.not.ok(existsSync(path.join(project, 'node_modules', 'tsx')), 'tsx is not');
  assert.not.ok(existsSync(path.join(project, 'node_modules', 'zookeeper')), 'zookeeper is not');
  // So the runs below, and the TypeScript check against the installed types, are without it.
  assert.not.ok(existsSync(path.join(project, 'node_modules', '@opentelemetry')), 'no OpenTelemetry package is');
});

const PROTO = `syntax = "proto3";
package demo.v1;
service Greeter {
  rpc Hello (HelloRequest) returns (HelloReply);
  rpc Square (SquareRequest) returns (SquareReply);
}
message HelloRequest { string name = 1; }
message HelloReply { string message = 1; }
message SquareRequest { int32 n = 1; }
message SquareReply { int32 n = 1; int32 thread = 2; }
`;

// Square runs on the worker lane: the answer says which thread computed it.
const HANDLERS = `import { threadId } from 'node:worker_threads';
export const Greeter = {
  hello: (request) => ({ message: 'hello, ' + request.name }),
  square: (request) => ({ n: request.n * request.n, thread: threadId }),
};
`;

/** A server whose `square` runs on one worker thread, a client, two calls, a clean close. */
const MAIN = (imports: string, service: string, handlersFile: string) => `${imports}
const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 });
server.addService(${service}, handlers, { lanes: { square: 'worker' }, workerModule: new URL(${handlersFile}, import.meta.url) });
const { port } = await server.listen();
const client = createClient(${service}, '127.0.0.1:' + port);
try {
  const hello = await client.hello({ name: 'package' });
  const square = await client.square({ n: 12 });
  process.stdout.write(JSON.stringify({ hello: hello.message, square: square.n, onWorker: square.thread !== 0 }) + '\\n');
} finally {
  await client.$close();
  await server.close();
}
`;
const EXPECTED = { hello: 'hello, package', square: 144, onWorker: true };

test('from plain JavaScript: a server with a worker-lane method, and a client', async () => {
  write('demo.proto', PROTO);
  write('handlers.mjs', HANDLERS);
  write(
    'main.mjs',
    MAIN(
      `import { createClient, createServer, findService, loadServices } from '${pkg.name}';\nimport { Greeter as handlers } from './handlers.mjs';\nconst Greeter = findService(loadServices('demo.proto'), 'demo.v1.Greeter');`,
      'Greeter',
      "'./handlers.mjs'",
    ),
  );
  const { stdout } = await node(['main.mjs'], 30_000);
  assert.equal(JSON.parse(stdout), EXPECTED);
});

test('from TypeScript: code from `ringrpc gen`, type-checked by tsc against the installed types, then run', async () => {
  const bin = path.join(project, 'node_modules', '.bin', Object.keys(pkg.bin)[0]!);
  mkdirSync(path.join(project, 'ts'));
  await run(bin, ['gen', 'demo.proto', '--out', 'ts/demo.ts'], project);
  write('ts/handlers.ts', `${HANDLERS.replace('(request)', '(request: { name: string })').replace('(request)', '(request: { n: number })')}`);
  // The worker module has the extension of the file that runs: .ts where Node strips types, else the compiled .js.
  write(
    'ts/main.ts',
    MAIN(
      `import { createClient, createServer } from '${pkg.name}';\nimport { Greeter } from './demo.ts';\nimport { Greeter as handlers } from './handlers.ts';`,
      'Greeter',
      "'./handlers' + import.meta.url.slice(import.meta.url.lastIndexOf('.'))",
    ),
  );
  write(
    'ts/tsconfig.json',
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: ['node'],
        skipLibCheck: false,
        rewriteRelativeImportExtensions: true,
        erasableSyntaxOnly: true,
        verbatimModuleSyntax: true,
        outDir: '../build',
      },
      include: ['.'],
    }),
  );
  await run(process.execPath, [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'ts'], project);
  const { stdout } = await node([NATIVE_TS ? 'ts/main.ts' : 'build/main.js'], 30_000);
  assert.equal(JSON.parse(stdout), EXPECTED);
});

test('the installed bin: --help, and serve with TypeScript handlers without tsx', async () => {
  const bin = path.join(project, 'node_modules', '.bin', Object.keys(pkg.bin)[0]!);
  assert.ok(statSync(bin).mode & 0o111, 'the bin is executable');
  const help = await run(bin, ['--help'], project);
  assert.match(help.stdout + help.stderr, /usage: ringrpc <command>/);

  write('serve/handlers.ts', HANDLERS.replace('(request)', '(request: { name: string })').replace('(request)', '(request: { n: number })'));
  const serve = spawn(bin, ['serve', '--proto', 'demo.proto', '--handlers', 'serve/handlers.ts', '--host', '127.0.0.1', '--port', '0'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(serve);
  let out = '';
  serve.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  serve.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!/ringrpc listening on/.test(out) && serve.exitCode === null && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
  if (NATIVE_TS) {
    assert.match(out, /ringrpc listening on/, `serve loads erasable TypeScript natively: ${out}`);
    serve.kill('SIGINT');
    assert.is(await exited, 0);
  } else {
    const code = await exited;
    assert.ok(code !== 0, 'serve fails');
    assert.match(out, /cannot load module serve\/handlers\.ts: TypeScript handler modules on Node < 22\.18 need tsx: run `npm install tsx`/);
  }
  children.delete(serve);
});

test.after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test.run();
