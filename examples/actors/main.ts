/**
 * Accounts as actors: a server with Deposit, Withdraw and Balance on the actor lane, then 32
 * clients doing random deposits and withdrawals on 10 accounts at once. Each account's calls
 * run one at a time in its actor, so every final balance equals the sum of that account's
 * successful operations, although the handlers await between reading a balance and writing
 * it. Prints the balances, the check, and the actor lane's counters.
 * `node --import tsx examples/actors/main.ts`
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, createServer, RpcError, Status } from '../../src/index.js';
import { Accounts } from './generated.js';

const CLIENTS = 32;
const CALLS_PER_CLIENT = 250;
const ACCOUNTS = Array.from({ length: 10 }, (_, i) => `acct-${i}`);

const server = createServer({ host: '127.0.0.1', port: 0, actorWorkers: 2 });
// The handlers run in the actor-lane threads, which load workerModule (handlers.ts, or
// handlers.js when this file runs compiled); none runs on this thread.
server.addService(
  Accounts,
  {},
  {
    lanes: { deposit: 'actor', withdraw: 'actor', balance: 'actor' },
    workerModule: new URL(`./handlers${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
  },
);
const address = await server.listen();
const clients = Array.from({ length: CLIENTS }, () => createClient(Accounts, address));

/** What each account should hold: the sum of its successful deposits less its successful withdrawals. */
const expected = new Map(ACCOUNTS.map((key) => [key, 0n]));
let deposits = 0;
let withdrawals = 0;
let refused = 0; // withdrawals answered FAILED_PRECONDITION: they would have overdrawn the account

const t0 = performance.now();
await Promise.all(
  clients.map(async (client) => {
    for (let i = 0; i < CALLS_PER_CLIENT; i++) {
      const key = ACCOUNTS[Math.floor(Math.random() * ACCOUNTS.length)]!;
      const amountCents = BigInt(1 + Math.floor(Math.random() * 10_000));
      if (Math.random() < 0.55) {
        await client.deposit({ amountCents }, { key });
        expected.set(key, expected.get(key)! + amountCents);
        deposits++;
        continue;
      }
      try {
        await client.withdraw({ amountCents }, { key });
        expected.set(key, expected.get(key)! - amountCents);
        withdrawals++;
      } catch (err) {
        if (!(err instanceof RpcError) || err.code !== Status.FAILED_PRECONDITION) throw err;
        refused++;
      }
    }
  }),
);
const elapsedMs = performance.now() - t0;
process.stdout.write(
  `${CLIENTS} clients, ${CLIENTS * CALLS_PER_CLIENT} calls in ${elapsedMs.toFixed(0)} ms: ` +
    `${deposits} deposits, ${withdrawals} withdrawals, ${refused} withdrawals refused (FAILED_PRECONDITION)\n`,
);

let mismatches = 0;
process.stdout.write('account   balance (cents)   sum of successful operations\n');
for (const key of ACCOUNTS) {
  const { balanceCents } = await clients[0]!.balance({}, { key });
  const want = expected.get(key)!;
  if (balanceCents !== want) mismatches++;
  process.stdout.write(`${key.padEnd(9)} ${String(balanceCents).padStart(15)}   ${String(want).padStart(28)}${balanceCents === want ? '' : '  MISMATCH'}\n`);
}
process.stdout.write(mismatches === 0 ? 'every balance equals the sum of its successful operations\n' : `${mismatches} balances differ\n`);

// Three refusals: no key (the actor lane answers, no handler runs), a key too long (the client
// refuses it before sending; a server would answer it INVALID_ARGUMENT too), a bad amount (the handler).
for (const [what, call] of [
  ['a call without a key', () => clients[0]!.balance({})],
  ['a key of 257 bytes', () => clients[0]!.balance({}, { key: 'k'.repeat(257) })],
  ['a deposit of 0 cents', () => clients[0]!.deposit({ amountCents: 0n }, { key: 'acct-0' })],
] as const) {
  try {
    await call();
    process.stdout.write(`${what}: succeeded?\n`);
  } catch (err) {
    process.stdout.write(`${what}: ${(err as RpcError).codeName}\n`);
  }
}

const lane = server.stats().actorLane!;
process.stdout.write(
  `actor lane: ${lane.workers} threads holding ${lane.activeActors.join(' + ')} actors; ` +
    `${lane.activations} activations, ${lane.passivations} passivations, ${lane.activationFailures} failed activations\n` +
    `  messages: ${lane.completed} completed, ${lane.failed} failed, ${lane.rerun} re-run, ${lane.workerRestarts} thread restarts\n` +
    `  in the thread: wait behind the key's earlier messages p50 ≤ ${lane.messageWait.p50Us} µs, p99 ≤ ${lane.messageWait.p99Us} µs; ` +
    `run p50 ≤ ${lane.messageRun.p50Us} µs, p99 ≤ ${lane.messageRun.p99Us} µs\n`,
);

await Promise.all(clients.map((client) => client.$close()));
await server.close();
if (mismatches > 0) process.exitCode = 1;
