import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionPool, type RpcError, Status, createClient, createPool } from '../../../src/index.js';
import { poolConnections } from '../../../src/client/connection-pool.js';
import { Bench } from '../../helpers/bench-server.js';

const test = suite('connection-pool');

test('users see options, stats, isClosed, close and destroy; nothing that hands out a channel', async () => {
  const pool = createPool({ connectionsPerEndpoint: 2 });
  assert.ok(pool instanceof ConnectionPool);
  assert.is(pool.options.connectionsPerEndpoint, 2);
  const members = new Set<string>();
  for (let o: object | null = pool; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) if (typeof key === 'string') members.add(key);
  }
  members.delete('constructor');
  assert.equal([...members].sort(), ['close', 'destroy', 'isClosed', 'options', 'stats']);
  assert.equal(pool.stats(), []);
  await pool.close();
  assert.ok(pool.isClosed);
});

test('the clients reach the working part through poolConnections()', async () => {
  const pool = createPool();
  const connections = poolConnections(pool);
  assert.is(poolConnections(pool), connections, 'one per pool');
  connections.retain({ host: '127.0.0.1', port: 1 });
  assert.is(pool.stats().length, 1, 'the public stats read the same connections');
  assert.not.ok(connections.inBackoff('127.0.0.1:1'));
  await pool.close();
  try {
    connections.acquire({ host: '127.0.0.1', port: 1 });
    assert.unreachable('acquired from a closed pool');
  } catch (err) {
    assert.is((err as RpcError).code, Status.UNAVAILABLE);
    assert.is((err as RpcError).notRun, 'unsent');
  }
});

test('a look-alike object given as options.pool is INVALID_ARGUMENT', () => {
  const fake = { options: createPool().options, stats: () => [], close: async () => {} };
  assert.throws(
    () => createClient(Bench, '127.0.0.1:1', { pool: fake as unknown as ConnectionPool }),
    (e: RpcError) => e.code === Status.INVALID_ARGUMENT && /createPool\(\)/.test(e.message),
  );
});

test.run();
