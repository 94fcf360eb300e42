/**
 * Handlers of `bench.v1.Bench` (proto/bench/v1/bench.proto), used by `npm start`, the
 * tests, bench/ and `ringrpc serve --handlers examples/bench/handlers.ts`.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { RpcError, Status, type Actor, type ServiceImplementation } from '../../src/index.js';
import { WorkKernel, type Bench as BenchService } from './generated.js';

/** Upper bound of `rounds` (about 1,000 rounds take 1–2 ms of CPU with either kernel); beyond it INVALID_ARGUMENT. */
export const MAX_ROUNDS = 10_000_000;
/** Upper bound of Sleep's `ms`. */
export const MAX_SLEEP_MS = 600_000;
/** Upper bound of Stream's `payload_bytes`. */
export const MAX_STREAM_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** Reply `n` of Stream: `payloadBytes` bytes, byte i being (n + i) mod 256. */
export function streamPayload(n: number, payloadBytes: number): Uint8Array {
  const payload = Buffer.allocUnsafe(payloadBytes);
  for (let i = 0; i < payloadBytes; i++) payload[i] = (n + i) & 0xff;
  return payload;
}

/**
 * The Work computation (proto/bench/v1/bench.proto, `WorkKernel`): `rounds` rounds of
 * `kernel` over the payload.
 * - SHA256: d = payload; each round d = sha256(d ‖ payload); returns d.
 * - INTEGER: x = the payload folded into 32 bits; each round 1,024 multiply-add steps;
 *   returns x, big-endian.
 */
export function work(payload: Uint8Array, rounds: number, kernel: WorkKernel = WorkKernel.WORK_KERNEL_SHA256): Uint8Array {
  if (kernel === WorkKernel.WORK_KERNEL_INTEGER) {
    const digest = new Uint8Array(4);
    new DataView(digest.buffer).setInt32(0, integerRounds(foldBytes(payload), rounds));
    return digest;
  }
  let digest: Uint8Array = payload;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).update(payload).digest();
  return digest;
}

function foldBytes(payload: Uint8Array): number {
  let x = 0;
  for (let i = 0; i < payload.length; i++) x = (Math.imul(x, 31) + payload[i]!) | 0;
  return x;
}

function integerRounds(x: number, rounds: number): number {
  for (let r = 0; r < rounds; r++) x = integerRound(x);
  return x;
}

// A round is a function of its own so that the JIT optimises it as a whole after a few
// calls; one long loop depends on on-stack replacement, whose code ran up to five times
// slower in some threads than in others.
function integerRound(x: number): number {
  for (let i = 0; i < 1024; i++) x = (Math.imul(x, 31) + i) | 0;
  return x;
}

export const Bench: ServiceImplementation<typeof BenchService> = {
  echo(request) {
    return { payload: request.payload };
  },

  work(request) {
    if (request.rounds > MAX_ROUNDS) {
      throw new RpcError(Status.INVALID_ARGUMENT, `rounds must be at most ${MAX_ROUNDS} (got ${request.rounds})`);
    }
    if (request.kernel !== WorkKernel.WORK_KERNEL_SHA256 && request.kernel !== WorkKernel.WORK_KERNEL_INTEGER) {
      throw new RpcError(Status.INVALID_ARGUMENT, `unknown kernel ${request.kernel as number} (known: 0 SHA256, 1 INTEGER)`);
    }
    return { digest: work(request.payload, request.rounds, request.kernel) };
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

  async tally(request, ctx) {
    const actor = ctx.actor as Actor<TallyState> | undefined;
    if (actor === undefined) {
      throw new RpcError(
        Status.FAILED_PRECONDITION,
        `${ctx.service}/${ctx.method} keeps per-key state and runs on the actor lane only (serve --actor-methods Tally)`,
      );
    }
    if (request.delayUs > MAX_SLEEP_MS * 1000) {
      throw new RpcError(Status.INVALID_ARGUMENT, `delay_us must be at most ${MAX_SLEEP_MS * 1000} (got ${request.delayUs})`);
    }
    // Read, wait, write: were two messages of one key ever to overlap, counts would repeat.
    const { count, lastSeq } = actor.state;
    if (request.delayUs > 0) await delay(request.delayUs / 1000);
    actor.state.count = count + 1n;
    actor.state.lastSeq = request.seq;
    return { count: count + 1n, lastSeq, thread: threadId };
  },

  async *stream(request) {
    if (request.payloadBytes > MAX_STREAM_PAYLOAD_BYTES) {
      throw new RpcError(Status.INVALID_ARGUMENT, `payload_bytes must be at most ${MAX_STREAM_PAYLOAD_BYTES} (got ${request.payloadBytes})`);
    }
    // Replies of one size differ only in their first byte's offset: 256 buffers serve them all.
    const cache = new Map<number, Uint8Array>();
    for (let n = 0; n < request.count; n++) {
      const phase = n & 0xff;
      let payload = cache.get(phase);
      if (payload === undefined) cache.set(phase, (payload = streamPayload(phase, request.payloadBytes)));
      yield { payload };
    }
  },

  async sum(requests) {
    const hash = createHash('sha256');
    let messages = 0n;
    let bytes = 0n;
    for await (const request of requests) {
      messages++;
      bytes += BigInt(request.payload.length);
      hash.update(request.payload);
    }
    return { messages, bytes, digest: hash.digest() };
  },

  async *chat(requests) {
    for await (const request of requests) yield { payload: request.payload };
  },
};

/** The state of a Tally actor: messages counted, and the `seq` of the last. */
export interface TallyState {
  count: bigint;
  lastSeq: bigint;
}

/** Builds a Tally actor's state when it is activated (the actor lane calls this export). */
export function activate(): TallyState {
  return { count: 0n, lastSeq: 0n };
}

/**
 * Rounds of {@link work} with `kernel` that take about `targetMs` of one thread's time on
 * this machine now, measured (the sha256 kernel's speed drifts with the allocator's state,
 * so a figure from earlier is no good): the median rate of 5 spans of 50 ms, after 200 ms
 * of warm-up.
 *
 * Both lengths matter. Cold code runs several times slower than the JIT's, so a short
 * warm-up makes Work far lighter than asked; and about a third of the sha256 kernel's time
 * goes to the young-generation collections its hash objects cause, which a span of a few
 * rounds misses.
 */
export function calibrateRounds(targetMs: number, kernel: WorkKernel = WorkKernel.WORK_KERNEL_SHA256, payload: Uint8Array = new Uint8Array(64)): number {
  const step = 100;
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) work(payload, step, kernel);
  const rates: number[] = []; // rounds per ms
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    let rounds = 0;
    let elapsed = 0;
    do {
      work(payload, step, kernel);
      rounds += step;
      elapsed = performance.now() - t0;
    } while (elapsed < 50);
    rates.push(rounds / elapsed);
  }
  rates.sort((a, b) => a - b);
  return Math.max(1, Math.round(rates[2]! * targetMs));
}
