/**
 * Handlers of `accounts.v1.Accounts` (proto/accounts/v1/accounts.proto) for the actor lane:
 * each account is the actor of its key, and its balance lives in that actor's state, in the
 * worker thread that holds it. The calls of one account run one at a time, so a balance
 * needs no lock, also across the `await` between reading and writing it.
 *
 * `ringrpc serve --proto proto/accounts/v1/accounts.proto --handlers examples/actors/handlers.ts --actor-methods Deposit,Withdraw,Balance`
 * (examples/actors/main.ts starts the same server in code).
 */
import { setImmediate as turn } from 'node:timers/promises';
import { RpcError, Status, type Actor, type HandlerContext, type ServiceImplementation } from '../../src/index.js';
import type { Accounts as AccountsService } from './generated.js';

/** The state of one account's actor. */
export interface AccountState {
  /** In cents; never below 0. */
  balance: bigint;
}

/**
 * A stand-in for a database: balances of passivated accounts, written by `deactivate` and
 * read back by `activate`. It is module state, so there is one per actor-lane thread (a
 * key always reaches the same thread, so that is enough), and it dies with its thread:
 * a real service reads and writes its database in these two hooks instead.
 */
const saved = new Map<string, bigint>();

/** Builds an account's state when its actor is activated (its first message, or the first after passivation). */
export function activate(key: string): AccountState {
  // Load the persisted state here (this hook may be async; the account's messages wait for it).
  return { balance: saved.get(key) ?? 0n };
}

/** Runs before an idle account's actor is passivated (`actorIdleMs`, or `maxActorsPerWorker` reached). */
export async function deactivate(key: string, state: AccountState): Promise<void> {
  // Persist the state here: messages of this account that arrive meanwhile wait, then activate it again.
  saved.set(key, state.balance);
}

export const Accounts: ServiceImplementation<typeof AccountsService> = {
  async deposit(request, ctx) {
    const account = accountOf(ctx);
    const amount = positiveAmount(request.amountCents, ctx);
    const before = account.state.balance;
    // Stands for I/O between the read and the write (an audit log, a fraud check). No other
    // message of this account runs meanwhile, so the update cannot be lost.
    await turn();
    account.state.balance = before + amount;
    return { balanceCents: account.state.balance };
  },

  async withdraw(request, ctx) {
    const account = accountOf(ctx);
    const amount = positiveAmount(request.amountCents, ctx);
    const before = account.state.balance;
    await turn();
    if (amount > before) {
      throw new RpcError(
        Status.FAILED_PRECONDITION,
        `account ${JSON.stringify(account.key)} holds ${before} cents, less than the ${amount} cents to withdraw; nothing was taken`,
      );
    }
    account.state.balance = before - amount;
    return { balanceCents: account.state.balance };
  },

  balance(_request, ctx) {
    return { balanceCents: accountOf(ctx).state.balance };
  },
};

/** The account of the call; these methods keep per-account state, so they run on the actor lane only. */
function accountOf(ctx: HandlerContext): Actor<AccountState> {
  if (ctx.actor === undefined) {
    throw new RpcError(
      Status.FAILED_PRECONDITION,
      `${ctx.service}/${ctx.method} keeps per-account state and runs on the actor lane only (serve --actor-methods Deposit,Withdraw,Balance)`,
    );
  }
  return ctx.actor;
}

function positiveAmount(cents: bigint, ctx: HandlerContext): bigint {
  if (cents <= 0n) throw new RpcError(Status.INVALID_ARGUMENT, `${ctx.method}: amount_cents must be more than 0 (got ${cents})`);
  return cents;
}
