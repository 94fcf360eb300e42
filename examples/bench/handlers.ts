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
 * Rounds of {@link work} that take about `targetMs` of CPU on this machine now, measured
 * (its speed drifts, so a figure from earlier is no good). The median of 5 timings.
 */
export function calibrateRounds(targetMs: number, payload: Uint8Array = new Uint8Array(64)): number {
  const probe = 200;
  work(payload, probe); // warm up
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    work(payload, probe);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.max(1, Math.round((probe * targetMs) / times[2]!));
}
