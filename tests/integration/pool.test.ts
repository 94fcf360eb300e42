import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPool } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { sleep, until } from '../helpers/tcp.js';

const test = suite('connection pool');

test('one multiplexed connection carries every call of a client by default', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address);
  await Promise.all(Array.from({ length: 500 }, () => client.echo({})));
  assert.is(server.stats().connections.accepted, 1);
  await client.$close();
  await server.close();
});

test('clients that share a pool share its connection; closing one leaves the pool to the others', async () => {
  const { server, address } = await startBenchServer();
  const pool = createPool();
  const a = benchClient(address, { pool });
  const b = benchClient(address, { pool });
  await Promise.all([a.echo({}), b.echo({}), a.echo({}), b.echo({})]);
  assert.is(server.stats().connections.accepted, 1);
  await a.$close();
  await b.echo({});
  assert.is(server.stats().connections.accepted, 1);
  await b.$close();
  assert.is(server.stats().connections.open, 1, 'the shared pool stays open');
  await pool.close();
  await until(() => server.stats().connections.open === 0, 2000, 'the pool to close its connection');
  await server.close();
});

test('connectionsPerEndpoint spreads calls over that many connections', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { pool: { connectionsPerEndpoint: 3 } });
  await client.echo({});
  await Promise.all(Array.from({ length: 300 }, () => client.echo({})));
  assert.is(server.stats().connections.accepted, 3);
  assert.is(client.$stats()[0]!.connections, 3);
  await client.$close();
  await server.close();
});

test('a call started by an answer goes out on the connection that answered; callers in parallel keep the spread', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { pool: { connectionsPerEndpoint: 3 } });
  // One caller, one call after the other: each starts from the answer to the last, on its connection.
  for (let i = 0; i < 20; i++) await client.echo({});
  assert.is(server.stats().connections.accepted, 1, 'a sequential caller needs one connection');
  // Three callers in parallel, each chaining calls: their first calls go round the
  // connections (the connection that answered holds more than its share), and all three open.
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let i = 0; i < 30; i++) await client.echo({});
    }),
  );
  assert.is(server.stats().connections.accepted, 3);
  assert.is(client.$stats()[0]!.calls, 20 + 90);
  await client.$close();
  await server.close();
});

test('maxIdleMs closes connections nobody uses; the next call opens a new one', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { pool: { maxIdleMs: 50 } });
  await client.echo({});
  await until(() => server.stats().connections.open === 0, 2000, 'the idle connection to close');
  assert.is(client.$stats()[0]!.state, 'idle');
  await client.echo({});
  assert.is(server.stats().connections.accepted, 2);
  await client.$close();
  await server.close();
});

test('a connection with a call in flight is not closed as idle', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { pool: { maxIdleMs: 30 } });
  const slow = client.sleep({ ms: 200 });
  await sleep(120); // several sweeps past maxIdleMs, with the call still running
  assert.is(client.$stats()[0]!.state, 'ready', 'still taking calls');
  await client.echo({}); // goes over the same connection
  assert.is(server.stats().connections.accepted, 1);
  await slow;
  await client.$close();
  await server.close();
});

test('enabled: false opens one connection per call and closes it after', async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { pool: { enabled: false } });
  for (let i = 0; i < 5; i++) await client.echo({});
  await Promise.all(Array.from({ length: 5 }, () => client.echo({})));
  assert.is(server.stats().connections.accepted, 10);
  await until(() => server.stats().connections.open === 0, 2000, 'every per-call connection to close');
  await client.$close();
  await server.close();
});

test.run();
