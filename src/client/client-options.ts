import type { ClientInterceptor } from '../pipeline/interceptor.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import * as v from '../util/validate.js';
import { resolveOutlierDetection, type OutlierDetection } from './outlier-detection.js';
import { checkBackoff, resolveBackoff, type BackoffOptions } from '../util/backoff.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_STREAM_WINDOW } from '../protocol/constants.js';
import { checkStreamWindow } from './call-options.js';
import { DEFAULT_COMPRESSION_THRESHOLD_BYTES } from '../protocol/compression.js';
import { Status, isStatus, statusFromName, type StatusName } from '../status.js';
import { RpcError } from '../errors.js';
import { resolveRegistryOptions, type RegistryOptions } from '../registry/registry-options.js';

/**
 * TLS settings of a client connection, as `tls.connect` takes them: `ca` to trust a
 * private CA, `cert` + `key` for mutual TLS, `servername` to override SNI and the name
 * checked in the server's certificate (by default the target's host name).
 */
export type ClientTlsOptions = Omit<TlsConnectionOptions, 'host' | 'port' | 'socket' | 'path'>;

/** Settings of each connection; a shared pool holds them for all of its clients. */
export interface ConnectionOptions {
  /** Time to establish a connection (and the TLS handshake) before its calls fail UNAVAILABLE, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Cap on a received frame's `meta_len + body_len`, in bytes. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Calls in flight on one connection; beyond it the call fails RESOURCE_EXHAUSTED at once. Default 32768. */
  maxConcurrentRequestsPerConnection?: number;
  /** Probe idle connections with PING and drop the ones that stop answering. Default true. */
  keepalive?: boolean;
  /** A connection that heard nothing for this long is sent a PING, in ms. Default 5000. */
  heartbeatIntervalMs?: number;
  /** PINGs left unanswered (one per interval) before the connection is closed as dead. Default 3. */
  heartbeatMissLimit?: number;
  /** Connect with TLS (the same framing inside). Default: plain TCP. */
  tls?: ClientTlsOptions;
  /** Reconnect backoff after failed connects: exponential, jittered, capped. */
  reconnect?: Partial<BackoffOptions>;
  /**
   * Outlier detection (a circuit breaker per instance): after `consecutiveFailures` calls in
   * a row fail DEADLINE_EXCEEDED or UNAVAILABLE on an instance (a hung or failing server),
   * it gets no calls for `baseEjectionMs`, doubling on each ejection in a row up to
   * `maxEjectionMs`, while other instances can take them (within `maxEjectionPercent`);
   * then it is tried again. `false` turns it off.
   */
  outlierDetection?: Partial<OutlierDetection> | false;
}

/** Options of a connection pool (`createPool`, or a client's own pool). */
export interface PoolOptions extends ConnectionOptions {
  /** Reuse connections; `false` opens one connection per call (for comparison). Default true. */
  enabled?: boolean;
  /** Multiplexed connections per endpoint; calls go round them in turn. Default 1. */
  connectionsPerEndpoint?: number;
  /** A connection with no call for this long is closed, in ms (0: never). Default 300000. */
  maxIdleMs?: number;
}

/** When and how a failed call is sent again. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). Default 3. */
  maxAttempts?: number;
  /** Wait before the first retry, in ms. Default 50. */
  initialBackoffMs?: number;
  /** Cap on any wait, in ms. Default 2000. */
  maxBackoffMs?: number;
  /** Growth of the wait per retry. Default 2. */
  backoffMultiplier?: number;
  /** Random spread of each wait, as a fraction of it (0 to 1). Default 0.2. */
  jitter?: number;
  /**
   * Statuses worth another attempt, by name or number. Default `["UNAVAILABLE"]`. A call is
   * retried only when it is also safe: it never reached a handler, or its method is idempotent.
   */
  retryableStatuses?: Array<StatusName | Status>;
}

/**
 * Caps retries at a share of calls, so that retries cannot multiply the load on a
 * struggling server: over the last 10 s, retries ≤ `minPerSecond × 10 + ratio × calls`.
 */
export interface RetryBudget {
  /** Retries allowed per call made. Default 0.2. */
  ratio?: number;
  /** Retries always allowed per second, so that a quiet client can still retry. Default 10. */
  minPerSecond?: number;
}

/** Per-method overrides, keyed by stub name (`echo`) or .proto name (`Echo`). */
export interface MethodOptions {
  /** This method's retry policy (merged over the client's), or `false` for no retries. */
  retry?: RetryPolicy | false;
  /** Treat the method as idempotent (safe to run twice) whatever its .proto says. */
  idempotent?: boolean;
  /** Default deadline of this method's calls, in ms. */
  timeoutMs?: number;
}

/** Options of `createClient`. Every field is optional; defaults are in {@link CLIENT_DEFAULTS}. */
export interface ClientOptions extends ConnectionOptions {
  /** Default deadline of a call, in ms, across all of its attempts; a call's own `timeoutMs` overrides it. Default 3000. */
  timeoutMs?: number;
  /** Compression of request bodies: `"gzip"` above the threshold, or `"none"`. Default `"none"`. */
  compression?: 'none' | 'gzip';
  /** Bodies at least this large are compressed when `compression` is `"gzip"`. Default 1024. */
  compressionThresholdBytes?: number;
  /** Retry policy of every method (`false`: none). Default: 3 attempts on UNAVAILABLE, when safe. */
  retry?: RetryPolicy | false;
  /** Share of calls that may be retries. */
  retryBudget?: RetryBudget;
  /** Per-method retry, idempotency and deadline. */
  methods?: Record<string, MethodOptions>;
  /**
   * The connections: pool settings for this client's own pool, or a pool made by
   * `createPool()` to share connections with other clients (connection settings then
   * belong to that pool and may not be given here).
   */
  pool?: Pick<PoolOptions, 'enabled' | 'connectionsPerEndpoint' | 'maxIdleMs'> | SharedPool;
  /**
   * How each call picks an instance: `least_outstanding` (default: the less busy of two
   * random picks, so calls stop piling onto a slow or hung instance), `round_robin`,
   * `random`, `weighted_random` (by instance weight) or `consistent_hash` (by the call's
   * `key`, so that a key sticks to one instance while it is up).
   */
  loadBalancer?: LoadBalancerName;
  /**
   * Interceptors of every call of this client, first outermost; each wraps a call with all
   * its attempts (see `ClientInterceptor`). None by default.
   */
  interceptors?: readonly ClientInterceptor[];
  /**
   * Instances whose connects fail are ejected (skipped) while in reconnect backoff, but
   * never more than this share of the set, so that a network blip cannot empty it: the
   * others stay in rotation and are tried for real. Default 50.
   */
  maxEjectionPercent?: number;
  /** Options of the registry the client opens when its target is a registry URI. */
  registry?: RegistryOptions;
  /**
   * Window of a server or bidirectional stream, in bytes (1 to 2^31 − 1): the server's MESSAGEs it may
   * hold unread (spec §Streams, `Meta.window`); a call's `window` overrides it. Default 65,536.
   */
  streamWindowBytes?: number;
}

/** The load-balancing policies (`loadBalancer`). */
export const LOAD_BALANCERS = ['round_robin', 'random', 'weighted_random', 'least_outstanding', 'consistent_hash'] as const;
export type LoadBalancerName = (typeof LOAD_BALANCERS)[number];

/** A pool that several clients may share (implemented by `ConnectionPool`). */
export interface SharedPool {
  readonly options: ResolvedPoolOptions;
}

export interface ResolvedConnectionOptions {
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxConcurrentRequestsPerConnection: number;
  readonly keepalive: boolean;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMissLimit: number;
  readonly tls: ClientTlsOptions | undefined;
  readonly reconnect: Readonly<BackoffOptions>;
  /** Undefined when off. */
  readonly outlierDetection: Readonly<OutlierDetection> | undefined;
}

export interface ResolvedPoolOptions extends ResolvedConnectionOptions {
  readonly enabled: boolean;
  readonly connectionsPerEndpoint: number;
  readonly maxIdleMs: number;
}

export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly backoff: Readonly<BackoffOptions>;
  readonly retryableStatuses: readonly Status[];
}

export interface ResolvedMethodOptions {
  readonly retry: ResolvedRetryPolicy;
  readonly idempotent: boolean | undefined;
  readonly timeoutMs: number | undefined;
}

export interface ResolvedClientOptions {
  readonly timeoutMs: number;
  readonly compression: 'none' | 'gzip';
  readonly compressionThresholdBytes: number;
  readonly retry: ResolvedRetryPolicy;
  readonly retryBudget: Readonly<Required<RetryBudget>>;
  readonly methods: Readonly<Record<string, ResolvedMethodOptions>>;
  /** The client's own pool settings; undefined when it uses a shared pool. */
  readonly pool: ResolvedPoolOptions | undefined;
  readonly loadBalancer: LoadBalancerName;
  readonly maxEjectionPercent: number;
  readonly registry: RegistryOptions;
  readonly interceptors: readonly ClientInterceptor[];
  readonly streamWindowBytes: number;
}

/** The defaults of {@link ClientOptions} and {@link PoolOptions}, in one place. */
export const CLIENT_DEFAULTS = Object.freeze({
  timeoutMs: 3000,
  compression: 'none' as 'none' | 'gzip',
  compressionThresholdBytes: DEFAULT_COMPRESSION_THRESHOLD_BYTES,
  retry: Object.freeze({
    maxAttempts: 3,
    initialBackoffMs: 50,
    maxBackoffMs: 2000,
    backoffMultiplier: 2,
    jitter: 0.2,
    retryableStatuses: Object.freeze(['UNAVAILABLE']) as readonly StatusName[],
  }),
  retryBudget: Object.freeze({ ratio: 0.2, minPerSecond: 10 }),
  connectTimeoutMs: 5000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxConcurrentRequestsPerConnection: 32_768,
  keepalive: true,
  heartbeatIntervalMs: 5000,
  heartbeatMissLimit: 3,
  reconnect: Object.freeze({ initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2 }),
  outlierDetection: Object.freeze({ consecutiveFailures: 5, baseEjectionMs: 1000, maxEjectionMs: 30_000 }),
  pool: Object.freeze({ enabled: true, connectionsPerEndpoint: 1, maxIdleMs: 300_000 }),
  loadBalancer: 'least_outstanding' as LoadBalancerName,
  maxEjectionPercent: 50,
  streamWindowBytes: DEFAULT_STREAM_WINDOW,
});

const CONNECTION_KEYS = [
  'connectTimeoutMs',
  'maxFrameBytes',
  'maxConcurrentRequestsPerConnection',
  'keepalive',
  'heartbeatIntervalMs',
  'heartbeatMissLimit',
  'tls',
  'reconnect',
  'outlierDetection',
] as const;
const POOL_KEYS = ['enabled', 'connectionsPerEndpoint', 'maxIdleMs'] as const;
const CLIENT_KEYS = [
  'timeoutMs',
  'compression',
  'compressionThresholdBytes',
  'retry',
  'retryBudget',
  'methods',
  'pool',
  'loadBalancer',
  'maxEjectionPercent',
  'registry',
  'interceptors',
  'streamWindowBytes',
  ...CONNECTION_KEYS,
];

/** Validates pool options (`createPool`), with messages naming the field, and fills defaults. */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  v.knownKeys(options, [...CONNECTION_KEYS, ...POOL_KEYS]);
  return resolvePool(options, options);
}

function resolvePool(connection: ConnectionOptions, pool: Pick<PoolOptions, 'enabled' | 'connectionsPerEndpoint' | 'maxIdleMs'>): ResolvedPoolOptions {
  const d = CLIENT_DEFAULTS;
  const c = { ...d, ...v.stripUndefined(connection) };
  const p = { ...d.pool, ...v.stripUndefined(pool) };
  v.positiveMs('connectTimeoutMs', c.connectTimeoutMs);
  v.positiveInteger('maxFrameBytes', c.maxFrameBytes);
  v.positiveInteger('maxConcurrentRequestsPerConnection', c.maxConcurrentRequestsPerConnection);
  v.boolean('keepalive', c.keepalive);
  v.positiveMs('heartbeatIntervalMs', c.heartbeatIntervalMs);
  v.positiveInteger('heartbeatMissLimit', c.heartbeatMissLimit);
  if (c.tls !== undefined && (c.tls === null || typeof c.tls !== 'object')) throw v.invalid('tls', 'an object of tls.connect options', c.tls);
  v.boolean('pool.enabled', p.enabled);
  v.positiveInteger('pool.connectionsPerEndpoint', p.connectionsPerEndpoint);
  v.nonNegativeMs('pool.maxIdleMs', p.maxIdleMs);
  return Object.freeze({
    connectTimeoutMs: c.connectTimeoutMs,
    maxFrameBytes: c.maxFrameBytes,
    maxConcurrentRequestsPerConnection: c.maxConcurrentRequestsPerConnection,
    keepalive: c.keepalive,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    heartbeatMissLimit: c.heartbeatMissLimit,
    tls: c.tls,
    reconnect: resolveBackoff('reconnect', connection.reconnect ?? {}, d.reconnect),
    outlierDetection: resolveOutlierDetection(connection.outlierDetection, d.outlierDetection),
    enabled: p.enabled,
    connectionsPerEndpoint: p.connectionsPerEndpoint,
    maxIdleMs: p.maxIdleMs,
  });
}

/** Validates `options` once, with messages naming the field, and fills defaults. */
export function resolveClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  v.knownKeys(options, CLIENT_KEYS);
  const o = { ...CLIENT_DEFAULTS, ...v.stripUndefined(options) };
  v.positiveMs('timeoutMs', o.timeoutMs);
  v.oneOf('compression', o.compression, ['none', 'gzip'] as const);
  v.nonNegativeInteger('compressionThresholdBytes', o.compressionThresholdBytes);

  let pool: ResolvedPoolOptions | undefined;
  if (isSharedPool(options.pool)) {
    const clash = CONNECTION_KEYS.find((key) => options[key] !== undefined);
    if (clash) throw new RpcError(Status.INVALID_ARGUMENT, `options.${clash} cannot be set on a client that uses a shared pool: set it on createPool()`);
  } else {
    const poolOptions = options.pool ?? {};
    if (poolOptions === null || typeof poolOptions !== 'object') throw v.invalid('pool', 'an object or a pool from createPool()', poolOptions);
    v.knownKeys(poolOptions, POOL_KEYS, 'options.pool');
    pool = resolvePool(options, poolOptions);
  }

  const retry = resolveRetry('retry', options.retry, undefined);
  const budgetIn = o.retryBudget;
  if (budgetIn === null || typeof budgetIn !== 'object') throw v.invalid('retryBudget', 'an object', budgetIn);
  v.knownKeys(budgetIn, ['ratio', 'minPerSecond'], 'options.retryBudget');
  const retryBudget = { ...CLIENT_DEFAULTS.retryBudget, ...v.stripUndefined(budgetIn) };
  if (typeof retryBudget.ratio !== 'number' || !(retryBudget.ratio >= 0) || !Number.isFinite(retryBudget.ratio))
    throw v.invalid('retryBudget.ratio', 'a non-negative number', retryBudget.ratio);
  v.nonNegativeInteger('retryBudget.minPerSecond', retryBudget.minPerSecond);

  const methods: Record<string, ResolvedMethodOptions> = {};
  const methodsIn = o.methods ?? {};
  if (methodsIn === null || typeof methodsIn !== 'object') throw v.invalid('methods', 'an object keyed by method name', methodsIn);
  for (const [name, m] of Object.entries(methodsIn as Record<string, MethodOptions>)) {
    if (m === null || typeof m !== 'object') throw v.invalid(`methods.${name}`, 'an object', m);
    v.knownKeys(m, ['retry', 'idempotent', 'timeoutMs'], `options.methods.${name}`);
    if (m.idempotent !== undefined) v.boolean(`methods.${name}.idempotent`, m.idempotent);
    if (m.timeoutMs !== undefined) v.positiveMs(`methods.${name}.timeoutMs`, m.timeoutMs);
    methods[name] = Object.freeze({ retry: resolveRetry(`methods.${name}.retry`, m.retry, retry), idempotent: m.idempotent, timeoutMs: m.timeoutMs });
  }

  v.oneOf('loadBalancer', o.loadBalancer, LOAD_BALANCERS);
  if (typeof o.maxEjectionPercent !== 'number' || !(o.maxEjectionPercent >= 0 && o.maxEjectionPercent <= 100)) {
    throw v.invalid('maxEjectionPercent', 'a number from 0 to 100', o.maxEjectionPercent);
  }
  const registry = options.registry ?? {};
  if (registry === null || typeof registry !== 'object') throw v.invalid('registry', 'an object of registry options', registry);
  resolveRegistryOptions(registry); // validated here, applied when the registry is opened
  checkStreamWindow('streamWindowBytes', o.streamWindowBytes);

  return Object.freeze({
    timeoutMs: o.timeoutMs,
    compression: o.compression,
    compressionThresholdBytes: o.compressionThresholdBytes,
    retry,
    retryBudget: Object.freeze(retryBudget),
    methods: Object.freeze(methods),
    pool,
    loadBalancer: o.loadBalancer,
    maxEjectionPercent: o.maxEjectionPercent,
    registry: Object.freeze({ ...registry }),
    interceptors: v.functions<ClientInterceptor>('interceptors', options.interceptors),
    streamWindowBytes: o.streamWindowBytes,
  });
}

function isSharedPool(pool: unknown): pool is SharedPool {
  // A pool, not pool options: createClient checks that it is one from createPool().
  return pool !== null && typeof pool === 'object' && 'options' in pool && typeof (pool as { stats?: unknown }).stats === 'function';
}

/** A retry policy over `base` (the client's, for a method) or the defaults; `false` means one attempt. */
function resolveRetry(name: string, value: RetryPolicy | false | undefined, base: ResolvedRetryPolicy | undefined): ResolvedRetryPolicy {
  const d = CLIENT_DEFAULTS.retry;
  const from =
    base ??
    Object.freeze({
      maxAttempts: d.maxAttempts,
      backoff: Object.freeze({ initialMs: d.initialBackoffMs, maxMs: d.maxBackoffMs, multiplier: d.backoffMultiplier, jitter: d.jitter }),
      retryableStatuses: Object.freeze(d.retryableStatuses.map((n) => Status[n])),
    });
  if (value === false) return Object.freeze({ ...from, maxAttempts: 1 });
  if (value === undefined) return from;
  if (value === null || typeof value !== 'object') throw v.invalid(name, 'an object or false', value);
  v.knownKeys(value, Object.keys(d), `options.${name}`);
  const maxAttempts = value.maxAttempts ?? from.maxAttempts;
  v.positiveInteger(`${name}.maxAttempts`, maxAttempts);
  const wanted = {
    initialMs: value.initialBackoffMs ?? from.backoff.initialMs,
    maxMs: value.maxBackoffMs ?? from.backoff.maxMs,
    multiplier: value.backoffMultiplier ?? from.backoff.multiplier,
    jitter: value.jitter ?? from.backoff.jitter,
  };
  const names = { initialMs: `${name}.initialBackoffMs`, maxMs: `${name}.maxBackoffMs`, multiplier: `${name}.backoffMultiplier`, jitter: `${name}.jitter` };
  const backoff = checkBackoff(wanted, names);
  let retryableStatuses = from.retryableStatuses;
  if (value.retryableStatuses !== undefined) {
    if (!Array.isArray(value.retryableStatuses)) throw v.invalid(`${name}.retryableStatuses`, 'an array of status names or numbers', value.retryableStatuses);
    retryableStatuses = Object.freeze(
      value.retryableStatuses.map((s) => {
        const code = typeof s === 'number' ? s : statusFromName(String(s));
        if (code === undefined || !isStatus(code) || code === Status.OK)
          throw v.invalid(`${name}.retryableStatuses`, 'status names or numbers other than OK', s);
        return code;
      }),
    );
  }
  return Object.freeze({ maxAttempts, backoff, retryableStatuses });
}
