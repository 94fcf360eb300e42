import { statusName } from '../status.js';
import type { CallProtocol } from '../pipeline/handler-context.js';
import type { ReactorReserveStats } from '../worker-lane/reactor-reserve.js';

/**
 * - `idle`: created, not listening;
 * - `starting`: in `listen()`: worker threads loading, the socket binding;
 * - `listening`: accepting connections;
 * - `draining`: shutting down: not accepting, answering what it took;
 * - `closed`.
 */
export type ServerState = 'idle' | 'starting' | 'listening' | 'draining' | 'closed';

/**
 * Upper bounds of the latency buckets, in µs (100 µs to 10 s, as Prometheus
 * `le` buckets): fixed, so that recording is one short scan and one increment.
 */
const LATENCY_BUCKETS_US: readonly number[] = [
  100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/**
 * A histogram of durations over {@link LATENCY_BUCKETS_US}: recording is one short scan
 * and one increment; a snapshot gives count, sum, bucket estimates of p50/p99 and the
 * cumulative buckets Prometheus wants.
 */
export class LatencyHistogram {
  /** Float64s a histogram takes: one per bucket and one above the largest, count, sum. */
  static readonly SLOTS = LATENCY_BUCKETS_US.length + 3;
  private static readonly COUNT = LATENCY_BUCKETS_US.length + 1;
  private static readonly SUM = LATENCY_BUCKETS_US.length + 2;

  /**
   * @param cells where it counts: its own array, or a view of shared memory that one thread
   *   records into and another reads (a worker's histogram read by the reactor)
   */
  constructor(private readonly cells: Float64Array = new Float64Array(LatencyHistogram.SLOTS)) {
    if (cells.length !== LatencyHistogram.SLOTS) throw new RangeError(`a histogram takes ${LatencyHistogram.SLOTS} cells`);
  }

  /** Sums histograms (those of several threads) into one snapshot. */
  static merged(histograms: readonly LatencyHistogram[]): LatencySnapshot {
    const sum = new LatencyHistogram();
    for (const h of histograms) for (let i = 0; i < LatencyHistogram.SLOTS; i++) sum.cells[i]! += h.cells[i]!;
    return sum.snapshot();
  }

  record(us: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_US.length && us > LATENCY_BUCKETS_US[i]!) i++;
    this.cells[i]!++;
    this.cells[LatencyHistogram.COUNT]!++;
    this.cells[LatencyHistogram.SUM]! += us;
  }

  snapshot(): LatencySnapshot {
    const count = this.cells[LatencyHistogram.COUNT]!;
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS_US.map((le, i): [number, number] => [le, (cumulative += this.cells[i]!)]);
    const at = (q: number): number => {
      if (count === 0) return 0;
      const rank = q * count;
      const hit = buckets.find(([, n]) => n >= rank);
      return hit === undefined ? LATENCY_BUCKETS_US[LATENCY_BUCKETS_US.length - 1]! : hit[0];
    };
    return { count, sumUs: Math.round(this.cells[LatencyHistogram.SUM]!), p50Us: at(0.5), p99Us: at(0.99), buckets };
  }
}

/**
 * Durations at one moment: count, sum, bucket estimates of the median and p99 (the
 * bucket's upper bound), and cumulative `[le µs, count]` buckets.
 */
export interface LatencySnapshot {
  readonly count: number;
  readonly sumUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly buckets: ReadonlyArray<readonly [number, number]>;
}

/**
 * Counters of one method. Every call counted in `requests` ends in exactly one of `ok` or
 * `errors` (answered; cancelled; past its deadline; abandoned with its connection), or is
 * still `inflight`: `requests === ok + sum(errors) + inflight`, and the latency histogram
 * holds one entry per ended call.
 */
export class MethodStats {
  requests = 0;
  ok = 0;
  inflight = 0;
  /** Error answers by status number. */
  readonly errors = new Map<number, number>();
  private readonly latency = new LatencyHistogram();

  recordError(code: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Records the time from reading a request to its end (answered, cancelled or abandoned). */
  recordLatency(startedAt: number): void {
    this.latency.record((performance.now() - startedAt) * 1000);
  }

  /** A call refused as it was read (admission, a bad key): an error, and a latency of 0. */
  recordRefusal(code: number): void {
    this.recordError(code);
    this.latency.record(0);
  }

  snapshot(): MethodStatsSnapshot {
    const errors: Record<string, number> = {};
    for (const [code, n] of this.errors) errors[statusName(code)] = n;
    return { requests: this.requests, ok: this.ok, errors, inflight: this.inflight, latency: this.latency.snapshot() };
  }
}

/** A method's counters at one moment. */
export interface MethodStatsSnapshot {
  readonly requests: number;
  readonly ok: number;
  /**
   * Calls ended otherwise, by status name, e.g. `{ DEADLINE_EXCEEDED: 2 }`: error answers,
   * and calls that ended unanswered (CANCELLED: the client cancelled, or went away;
   * DEADLINE_EXCEEDED: the client gave up at its deadline).
   */
  readonly errors: Readonly<Record<string, number>>;
  readonly inflight: number;
  /** Time from reading each request to its end, answered or not (a refusal: 0). */
  readonly latency: LatencySnapshot;
}

/** Server-wide counters. */
export class ConnectionCounters {
  open = 0;
  accepted = 0;
  /** Closed by the server because they sent nothing for the idle limit. */
  idleClosed = 0;
  /** Closed by the server after a protocol fault (GOAWAY). */
  faultClosed = 0;
  /** Closed because the peer stopped reading (write buffer over its cap, or no drain for `writeTimeoutMs`). */
  overflowClosed = 0;
  /** Closed because a frame took longer than `frameTimeoutMs` to arrive, or no frame came within `firstFrameTimeoutMs` (slowloris). */
  slowClosed = 0;
  /** Closed because a frame passed a size limit: `maxFrameBytes`, `maxMetaBytes`, or the server-wide `maxBufferedInputBytes`. */
  oversizedClosed = 0;
  /** Refused at once: `maxConnections` were open. */
  refused = 0;
  /** TLS handshakes that failed (bad or missing client certificate, not TLS at all, timeout). */
  tlsFailed = 0;
  /** Connections accepted that speak gRPC (HTTP/2); the rest of `accepted` speak ringrpc. */
  grpcAccepted = 0;
  /** gRPC calls received (every stream with a gRPC request, built-in services' included). */
  grpcCalls = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Bytes reserved now for frames still arriving, over all connections (see `maxBufferedInputBytes`). */
  bufferedIn = 0;
  /** Round trips of the server's keepalive PINGs, over all connections. */
  readonly keepaliveRtt = new LatencyHistogram();
}

/** A point-in-time view of the server's counters. */
export interface ServerStats {
  readonly state: ServerState;
  readonly connections: {
    readonly open: number;
    readonly accepted: number;
    readonly refused: number;
    readonly idleClosed: number;
    readonly faultClosed: number;
    readonly overflowClosed: number;
    readonly slowClosed: number;
    readonly oversizedClosed: number;
    readonly tlsFailed: number;
    /** Of `accepted`, the connections that speak gRPC (HTTP/2). */
    readonly grpc: number;
    /** Round trips of the server's keepalive PINGs (one per connection every `heartbeatIntervalMs`). */
    readonly keepaliveRtt: LatencySnapshot;
  };
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Bytes held now for frames still arriving (by declared size), over all connections. */
  readonly bufferedInBytes: number;
  /** Response bytes held now for peers that are not reading fast enough, over all connections. */
  readonly bufferedOutBytes: number;
  readonly inflight: number;
  /** gRPC calls received (built-in health and reflection calls included); every call is also counted in `methods`, by protocol-blind method. */
  readonly grpcCalls: number;
  /** The worker lane's queue, utilisation and counts; absent when no method uses it. */
  readonly workerLane: WorkerLaneStats | undefined;
  /** The actor lane, when a method runs on it. */
  readonly actorLane: ActorLaneStats | undefined;
  /** Per method, keyed `service/Method`. */
  readonly methods: Readonly<Record<string, MethodStatsSnapshot>>;
}

/** One open connection, as {@link Server.connectionStats} lists it. */
export interface ConnectionStats {
  /** `host:port` of the client. */
  readonly peer: string;
  /** What it speaks: ringrpc's protocol, or gRPC over HTTP/2. */
  readonly protocol: CallProtocol;
  /** When it was accepted (ms since the epoch). */
  readonly openedAt: number;
  /** Calls taken and not yet answered. */
  readonly inflight: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Round trip of the last keepalive PING the client answered, in ms (none yet: undefined). */
  readonly rttMs: number | undefined;
}

/** A pooled lane's counters at one moment (the worker and actor lanes). */
export interface PooledLaneStats {
  readonly workers: number;
  /** Requests taken and not yet answered (queued here, in Piscina, or running). */
  readonly inflight: number;
  /** Requests waiting on the reactor for a batch. */
  readonly queueDepth: number;
  readonly maxQueue: number;
  /** Share of the workers' time spent running batches since the lane started (0..1). */
  readonly utilization: number;
  /**
   * The same share over about the last 10 s (0..1), measured between `stats()` reads
   * without a timer: read at least every 10 s (the status page reads every 2 s) it covers
   * the last 10 to 12 s; read more rarely, the time since the previous read.
   */
  readonly recentUtilization: number;
  readonly completed: number;
  readonly failed: number;
  readonly batches: number;
  /** Responses that came back through Piscina's result path instead of a ring. */
  readonly ringFallbacks: number;
  readonly workerRestarts: number;
  /** Requests run again on another worker because theirs died before taking them up. */
  readonly rerun: number;
  readonly workersTerminatedForOverrun: number;
  /** Time from reading a request to handing its batch to a worker thread. */
  readonly wait: LatencySnapshot;
  /** Mean worker time per request (decode, handler, encode), in µs; 0 until known. */
  readonly runMeanUs: number;
}

/** The worker lane's counters at one moment. */
export interface WorkerLaneStats extends PooledLaneStats {
  /** Whether a core is kept for the reactor now, and how often it was (`reserveReactorCore`). */
  readonly reactorReserve: ReactorReserveStats;
}

/** The actor lane's counters at one moment: the pooled lane's, and its actors'. */
export interface ActorLaneStats extends PooledLaneStats {
  readonly maxActorQueue: number;
  /** Actors each thread holds now, by shard. */
  readonly activeActors: readonly number[];
  readonly activations: number;
  readonly passivations: number;
  /** `activate` hooks that threw (their messages failed). */
  readonly activationFailures: number;
  /** `deactivate` hooks that threw (the actor was passivated anyway). */
  readonly deactivationFailures: number;
  /** The keys with the most messages taken and not yet answered (at most 10, deepest first). */
  readonly deepestKeys: ReadonlyArray<{ readonly service: string; readonly key: string; readonly depth: number }>;
  /** In the thread: from a message's arrival to its handler's start (behind its key's earlier messages). */
  readonly messageWait: LatencySnapshot;
  /** In the thread: a message's run, from its handler's start to its answer. */
  readonly messageRun: LatencySnapshot;
}
