/**
 * Handlers of `bench.v1.Bench` (proto/bench/v1/bench.proto), used by `npm start`, the
 * tests, bench/ and `ringrpc serve --handlers examples/bench/handlers.ts`.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { RpcError, Status, type ServiceImplementation } from '../../src/index.js';
import type { Bench as BenchService } from './generated.js';

/** Upper bound of `rounds`: about 5 s of CPU with a small payload; beyond it INVALID_ARGUMENT. */
export const MAX_ROUNDS = 10_000_000;
/** Upper bound of Sleep's `ms`. */
export const MAX_SLEEP_MS = 600_000;

/** The Work computation: d = payload; `rounds` times d = sha256(d ‖ payload); returns d. */
export function work(payload: Uint8Array, rounds: number): Uint8Array {
  let digest: Uint8Array = payload;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).update(payload).digest();
  return digest;
}

export const Bench: ServiceImplementation<typeof BenchService> = {
  echo(request) {
    return { payload: request.payload };
  },

  work(request) {
    if (request.rounds > MAX_ROUNDS) {
      throw new RpcError(Status.INVALID_ARGUMENT, `rounds must be at most ${MAX_ROUNDS} (got ${request.rounds})`);
    }
    return { digest: work(request.payload, request.rounds) };
  },

  async sleep(request, ctx) {
    if (request.ms > MAX_SLEEP_MS) {
      throw new RpcError(Status.INVALID_ARGUMENT, `ms must be at most ${MAX_SLEEP_MS} (got ${request.ms})`);
    }
    try {
      await delay(request.ms, undefined, { signal: ctx.signal });
    } catch (err) {
      throw ctx.signal.aborted ? ctx.signal.reason : err;
    }
    return {};
  },
};

/**
 * Rounds of {@link work} that take about `targetMs` of one thread's time on this machine now,
 * measured (its speed drifts, so a figure from earlier is no good): the median rate of 5
 * spans of 50 ms, after 200 ms of warm-up.
 *
 * Both lengths matter. Cold code runs several times slower than the JIT's, so a short
 * warm-up makes Work far lighter than asked; and about a third of Work's time goes to the
 * young-generation collections its hash objects cause, which a span of a few rounds misses.
 */
export function calibrateRounds(targetMs: number, payload: Uint8Array = new Uint8Array(64)): number {
  const step = 100;
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) work(payload, step);
  const rates: number[] = []; // rounds per ms
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    let rounds = 0;
    let elapsed = 0;
    do {
      work(payload, step);
      rounds += step;
      elapsed = performance.now() - t0;
    } while (elapsed < 50);
    rates.push(rounds / elapsed);
  }
  rates.sort((a, b) => a - b);
  return Math.max(1, Math.round(rates[2]! * targetMs));
}
