/**
 * The worker lane's pacing: how many requests go in one batch, which worker takes it, and
 * how long the reactor lets responses gather before draining. Pure functions of the lane's
 * load, so the policy is readable (and tested) apart from the machinery that applies it.
 */

/**
 * Batches a worker holds: one running and the next one waiting in its own port, so it
 * starts the next the moment it ends one, without a round trip through the reactor.
 * Measured with Work at concurrency 64 on 2 cores: with one batch per worker, the workers
 * sat idle for 8–12% of the time between batches (a wake of the reactor, Piscina's
 * dispatch, a wake of the worker, and a starved queue while responses lingered); with two,
 * 1–3%, and the lane did 1.14× the requests in paired runs (docs/design.md).
 */
export const TASKS_PER_WORKER = 2;
/** Work a batch should hold, in ms of worker time. */
const TARGET_BATCH_MS = 20;
/**
 * A running batch older than this takes no batch behind it: it has run twice as long as
 * batches are cut for, so it holds a slow request, and what would queue behind it waits
 * for a worker that frees first.
 */
export const QUEUE_BEHIND_MAX_MS = 2 * TARGET_BATCH_MS;
/** Longest the reactor lets responses gather under a backlog. */
const MAX_LINGER_MS = 10;

/**
 * Stream replies that must be delivered within {@link FLOW_WINDOW_MS} for the lane to count
 * its streams as flowing: replies that come this fast outrun the reactor's wake-ups.
 */
const FLOWING_REPLIES = 16;
/** The span over which stream replies are counted (`LaneStreams.recentReplies`), in ms. */
export const FLOW_WINDOW_MS = 1;
/** How long a flowing stream's replies gather between drains, in ms. */
const FLOW_LINGER_MS = 1;

/** The lane's load at one moment. */
export interface LaneLoad {
  /** Requests taken and not yet answered. */
  readonly inflight: number;
  readonly workers: number;
  /** Mean worker time per request, once enough requests were answered to know it. */
  readonly perRequestMs: number | undefined;
  /**
   * Stream replies delivered lately (within about {@link FLOW_WINDOW_MS}), all streams
   * together; 0 when none, not known, or when a gathering could stall a stream
   * (`LaneStreams.recentReplies`).
   */
  readonly streamReplies?: number;
}

/**
 * Requests per batch: as many as amortise a task's fixed cost, up to about
 * {@link TARGET_BATCH_MS} of work, at most `maxBatch`, and never more than a fair share of
 * what is in flight (in-flight ÷ task slots). Once batched a request cannot move to another
 * worker, so an oversized batch would leave one worker holding the backlog while another
 * starves.
 */
export function batchLimit(load: LaneLoad, maxBatch: number): number {
  const fairShare = Math.ceil(load.inflight / (load.workers * TASKS_PER_WORKER));
  const byTime = load.perRequestMs === undefined ? maxBatch : Math.floor(TARGET_BATCH_MS / Math.max(load.perRequestMs, 0.001));
  return Math.max(1, Math.min(maxBatch, byTime, fairShare));
}

/**
 * How long the reactor may let responses gather before draining, under a backlog: a third
 * of the time a new request already waits in the queue (in-flight × time per request ÷
 * workers), in whole ms, at most {@link MAX_LINGER_MS}. A response delayed by it waited three
 * times as long already; the writes it saves (each one wakes the peer, whose next requests
 * then come back together) give the workers back their CPU. Measured with Work at
 * concurrency 64 on 2 cores: the reactor's share of a core fell from 16% to 11%, the load
 * generator's from 11% to 6%, and the workers got that time.
 *
 * 0 when there is no backlog, or when a third of the wait is under 1 ms: short requests
 * (Echo at concurrency 256) are bound by the reactor, not the workers, and a forced 1 ms
 * pause cost them 10% of their throughput.
 *
 * {@link FLOW_LINGER_MS} while streams flow ({@link FLOWING_REPLIES} of their replies or
 * more delivered within {@link FLOW_WINDOW_MS}) and no unary call is in flight on the
 * lane. Without it the reactor drained every reply as it was published: a wake, a drain
 * and a socket write for every few 64-byte replies, 12–16 thousand a second, which took
 * the CPU from the very workers producing them on 2 cores. A reply then waits up to a
 * millisecond more; replies that come a few at a time (under the threshold) wait for none,
 * and neither do unary answers, nor a stream whose credit is spent or whose producer waits
 * for room in its ring (those would wait for the linger to end before they could go on).
 * A producer that runs out of either during a linger ends it (`RingProducer.urge`): a
 * stream of one window at a time waits on its client, who can only grant more once it has
 * the replies already written. Measured on 2 cores with one worker-lane stream of 64-byte
 * replies and a 64 KiB window, alternated with the build before (two runs of three,
 * medians): 0.55 and 0.51 M replies/s against 0.37 and 0.38 M, p50 0.65–0.75 ms against
 * 1.2–1.3 ms; eight such streams no slower (1.37 and 1.16 M against 1.07 and 1.13 M).
 * A stream alone on its thread also urges as its credit crosses half the window
 * (worker-stream.ts): one stream 0.80 M against 0.69–0.74 M; with several streams on each thread
 * that cost eight streams a tenth, by cutting their lingers short, so they do not.
 */
export function lingerMs(load: LaneLoad): number {
  const flow = load.inflight === 0 && (load.streamReplies ?? 0) >= FLOWING_REPLIES ? FLOW_LINGER_MS : 0;
  if (load.inflight <= load.workers * TASKS_PER_WORKER || load.perRequestMs === undefined) return flow;
  const expectedWaitMs = (load.inflight * load.perRequestMs) / load.workers;
  return Math.max(flow, Math.min(MAX_LINGER_MS, Math.floor(expectedWaitMs / 3)));
}

/** One worker, as the choice of worker for a batch sees it. */
export interface WorkerLoad {
  /** Batches it holds, running or waiting in its port. */
  readonly batches: number;
  /** How long its running batch has run, in ms; undefined when none is running or it is unknown. */
  readonly batchAgeMs: number | undefined;
}

/**
 * Which worker takes the next batch (its index), or -1 to keep the batch back until a
 * worker frees. An idle worker first, while fewer than `maxRunning` run batches
 * (reactor-reserve.ts: one core may be kept for the reactor). Otherwise a worker with room
 * for a batch behind its running one ({@link TASKS_PER_WORKER}), choosing the oldest
 * running batch (the likeliest to end first), but none whose batch has run past
 * {@link QUEUE_BEHIND_MAX_MS}: a batch queued there would wait on a slow handler while
 * another worker could run it. Such a worker does not count against `maxRunning` either,
 * so a stuck handler never leaves the lane with fewer workers than it may use.
 */
export function pickWorker(workers: readonly WorkerLoad[], maxRunning: number = workers.length): number {
  let idle = -1;
  let running = 0;
  let best = -1;
  let bestAge = -1;
  for (let i = 0; i < workers.length; i++) {
    const { batches, batchAgeMs } = workers[i]!;
    if (batches === 0) {
      if (idle < 0) idle = i;
      continue;
    }
    const age = batchAgeMs ?? 0; // its batch has not started yet: it is as young as can be
    if (age > QUEUE_BEHIND_MAX_MS) continue;
    running++;
    if (batches >= TASKS_PER_WORKER || age <= bestAge) continue;
    best = i;
    bestAge = age;
  }
  return idle >= 0 && running < maxRunning ? idle : best;
}
