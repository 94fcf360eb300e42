import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnNode } from '../helpers/child.js';
import { Status } from '../../src/index.js';

/**
 * `@opentelemetry/api` is an optional peer: with no OpenTelemetry package resolvable (a
 * module hook hides them, in the main thread and in the workers), a server and a client
 * with interceptors start and serve calls on the inline and the worker lane, and nothing
 * so much as tries to resolve an OpenTelemetry module, until tracing is asked for, which
 * then fails naming the package to install.
 */
const test = suite('tracing absent');
const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-no-otel-'));

test('no OpenTelemetry installed: calls are served and nothing tries to load it; loadTracing() names the fix', async () => {
  const log = path.join(dir, 'asked');
  writeFileSync(log, '');
  const child = spawnNode(['--import', './tests/fixtures/no-otel-register.mjs', 'tests/fixtures/no-otel-process.ts'], { RINGRPC_TEST_OTEL_LOG: log });
  const code = await child.exited;
  assert.is(code, 0, `the process ran to its end: ${child.stderr}`);
  const result = JSON.parse(child.stdout) as { served: [string, boolean]; before: string[]; error?: { code: number; message: string }; after: string[] };
  assert.equal(result.served, ['ok', true], 'an inline and a worker-lane call were served');
  assert.equal(result.before, [], 'nothing tried to resolve an @opentelemetry module');
  assert.equal(result.error, {
    code: Status.FAILED_PRECONDITION,
    message: 'tracing needs the optional peer dependency "@opentelemetry/api": npm install @opentelemetry/api',
  });
  assert.equal(result.after, ['@opentelemetry/api'], 'the hook saw loadTracing() try: it would have seen anything else');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
