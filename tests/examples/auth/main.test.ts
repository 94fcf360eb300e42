import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnNode } from '../../helpers/child.js';

test('examples/auth: tokens and mutual TLS decide who may call what; the access log sees every call', async () => {
  const child = spawnNode(['examples/auth/main.ts']);
  const code = await child.exited;
  assert.is(code, 0, child.stderr);
  const out = child.stdout;
  const line = (label: string): string => out.split('\n').find((l) => l.trimStart().startsWith(label)) ?? `(no line ${label})`;
  assert.match(line('anonymous: Echo'), /UNAUTHENTICATED.*needs a bearer token/);
  assert.match(line('alice: Echo'), /OK \(the handler saw alice\)/);
  assert.match(line('alice: Work'), /PERMISSION_DENIED/);
  assert.match(line('batch: Work'), /OK \(the handler saw batch\)/);
  assert.match(line('a forged token: Work'), /UNAUTHENTICATED.*refused/);
  assert.match(line('client certificate: Work'), /OK \(the handler saw ringrpc test client\)/);
  assert.match(line('no client certificate'), /UNAVAILABLE/);
  // The access log saw all 8 calls of the token server, refused ones included.
  assert.is(out.match(/^ {4}access: /gm)?.length, 8, out);
});

test.run();
