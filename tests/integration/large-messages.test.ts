import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';

/**
 * Large requests and replies end to end, on the inline lane: a frame straddling hundreds
 * of reads is assembled as they arrive, and a reply's large `bytes` field is written in
 * pieces beside the rest of its encoding (see split-encode and frame-writer's unit tests).
 */
const test = suite('large messages');

function patterned(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

test('a 16 MiB Echo comes back byte for byte', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { timeoutMs: 30_000 });
  try {
    const payload = patterned(16 * 1024 * 1024 - 1024, 1);
    const reply = await client.echo({ payload });
    assert.is(reply.payload.length, payload.length);
    assert.ok(Buffer.from(reply.payload).equals(payload));
  } finally {
    await client.$close();
    await server.close();
  }
});

test('large and small Echoes in flight together on one connection each get their own answer', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { timeoutMs: 30_000 });
  try {
    const sizes = [3_000_000, 10, 70_000, 0, 1_500_000, 65_535, 65_536, 200];
    const payloads = sizes.map((n, i) => patterned(n, i));
    const replies = await Promise.all(payloads.map((payload) => client.echo({ payload })));
    for (const [i, reply] of replies.entries()) assert.ok(Buffer.from(reply.payload).equals(payloads[i]!), `Echo of ${sizes[i]} bytes`);
  } finally {
    await client.$close();
    await server.close();
  }
});

test.run();
