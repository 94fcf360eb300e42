import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config.js';

const test = suite('config');

function file(json: unknown): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), 'ringrpc-config-')), 'c.json');
  writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
  return p;
}

test('precedence: flag > environment > file', () => {
  const f = file({ host: 'file-host', port: 1, timeoutMs: 10, heartbeatIntervalMs: 100 });
  const env = { RINGRPC_PORT: '2', RINGRPC_TIMEOUT_MS: '20' };
  const config = loadConfig({ flags: { port: '3' }, env, file: f });
  assert.equal(config, { host: 'file-host', port: 3, timeoutMs: 20, heartbeatIntervalMs: 100 });
});

test("the server's call time limit: --call-timeout, RINGRPC_CALL_TIMEOUT_MS, callTimeoutMs", () => {
  assert.equal(loadConfig({ file: file({ callTimeoutMs: 5000 }) }), { callTimeoutMs: 5000 });
  assert.equal(loadConfig({ env: { RINGRPC_CALL_TIMEOUT_MS: '750' } }), { callTimeoutMs: 750 });
  assert.equal(loadConfig({ flags: { 'call-timeout': '250' }, env: { RINGRPC_CALL_TIMEOUT_MS: '750' } }), { callTimeoutMs: 250 });
});

test('nothing set: nothing returned, so the option defaults apply', () => {
  assert.equal(loadConfig({ env: {} }), {});
});

test('RINGRPC_CONFIG names the file when no flag does', () => {
  const f = file({ heartbeatMissLimit: 7 });
  assert.equal(loadConfig({ env: { RINGRPC_CONFIG: f } }), { heartbeatMissLimit: 7 });
});

test('errors name their source', () => {
  assert.throws(() => loadConfig({ flags: { timeout: '3s' } }), /--timeout must be an integer \(got "3s"\)/);
  assert.throws(() => loadConfig({ env: { RINGRPC_PORT: 'x' } }), /environment variable RINGRPC_PORT must be an integer/);
  assert.throws(() => loadConfig({ file: file({ prot: 1 }) }), /unknown key "prot"/);
  assert.throws(() => loadConfig({ file: file({ port: '7401' }) }), /port must be an integer \(got "7401"\)/);
  assert.throws(() => loadConfig({ file: file('{oops') }), /cannot read config file/);
  assert.throws(() => loadConfig({ file: file([1]) }), /must hold a JSON object/);
  assert.throws(() => loadConfig({ file: '/nonexistent/ringrpc.json' }), /cannot read config file \/nonexistent/);
});

test.run();
