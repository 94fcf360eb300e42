import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient, createServer, type RpcError, Status } from '../../../src/index.js';
import { Accounts } from '../../../examples/actors/generated.js';
import { Accounts as handlers } from '../../../examples/actors/handlers.js';

test('64 concurrent clients, 20,000 deposits and withdrawals over 100 accounts: exact balances, none ever negative', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, actorWorkers: 2 }).addService(Accounts, handlers, {
    lanes: { deposit: 'actor', withdraw: 'actor', balance: 'actor' },
    workerModule: 'examples/actors/handlers.ts',
  });
  const { port } = await server.listen();
  const clients = Array.from({ length: 64 }, () => createClient(Accounts, `127.0.0.1:${port}`, { pool: { connectionsPerEndpoint: 1 } }));
  const expected = new Map<string, bigint>();
  const deposited = new Map<string, bigint>();
  let refused = 0;
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < 20_000) {
        const i = next++;
        const key = `acct-${Math.floor(Math.random() * 100)}`;
        const amount = BigInt(1 + Math.floor(Math.random() * 100));
        if (i % 3 !== 2) {
          deposited.set(key, (deposited.get(key) ?? 0n) + amount);
          const { balanceCents } = await client.deposit({ amountCents: amount }, { key });
          expected.set(key, (expected.get(key) ?? 0n) + amount);
          assert.ok(balanceCents > 0n && balanceCents <= deposited.get(key)!, `${key}: ${balanceCents}`);
        } else {
          try {
            const { balanceCents } = await client.withdraw({ amountCents: amount }, { key });
            expected.set(key, (expected.get(key) ?? 0n) - amount);
            // A uint64 on the wire: a balance driven below 0 would show as a huge number.
            assert.ok(balanceCents >= 0n && balanceCents <= (deposited.get(key) ?? 0n), `${key}: ${balanceCents}`);
          } catch (err) {
            assert.is((err as RpcError).code, Status.FAILED_PRECONDITION, (err as Error).message);
            refused++;
          }
        }
      }
    }),
  );
  for (const [key, balance] of expected) {
    assert.ok(balance >= 0n);
    assert.is((await clients[0]!.balance({}, { key })).balanceCents, balance, key);
  }
  assert.ok(refused > 0, 'some withdrawals met an empty account');
  assert.is(server.stats().actorLane!.activations, 100);
  await Promise.all(clients.map((c) => c.$close()));
  await server.close();
});

test.run();
