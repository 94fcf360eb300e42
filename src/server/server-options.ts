import type { ServerInterceptor } from '../pipeline/interceptor.js';
import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { TlsOptions } from 'node:tls';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_META_BYTES } from '../protocol/constants.js';
import { DEFAULT_COMPRESSION_THRESHOLD_BYTES } from '../protocol/compression.js';
import * as v from '../util/validate.js';
import type { Registry } from '../registry/registry.js';
import { isRegistryUri, parseRegistryUri } from '../registry/registry-uri.js';

/** How a server announces itself in its registry. */
export interface AdvertiseOptions {
  /**
   * The host clients should connect to. Default: the listening host, or when that is a
   * wildcard (`0.0.0.0`, `::`) the machine's first external IPv4 address (127.0.0.1 if
   * it has none).
   */
  host?: string;
  /** Relative share of calls under `weighted_random`. Default 100. */
  weight?: number;
  /** Free-form instance metadata (zone, version, …). */
  metadata?: Record<string, string>;
}

/** Options of `createServer`. Every field is optional; defaults are in {@link SERVER_DEFAULTS}. */
export interface ServerOptions {
  /**
   * A registry to announce the server's services in (its URI, or an open registry):
   * each service is registered once the server listens, and deregistered first thing
   * in shutdown. A URI's registry is closed with the server; a given one is not.
   */
  registry?: string | Registry;
  /** How the server appears in the registry. */
  advertise?: AdvertiseOptions;
  /** Interface to listen on. Default `"0.0.0.0"`. */
  host?: string;
  /** TCP port; 0 picks a free one. Default `0`. */
  port?: number;
  /** Cap on `meta_len + body_len` of a frame, and on a decompressed body, in bytes. Default 16 MiB. */
  maxFrameBytes?: number;
  /**
   * Cap on `meta_len`, in bytes: a larger meta is refused from the frame header (GOAWAY
   * RESOURCE_EXHAUSTED), never buffered or decoded, since Meta is decoded on the reactor.
   * Default 64 KiB.
   */
  maxMetaBytes?: number;
  /**
   * Server-wide cap on bytes held for frames still arriving, counted by their declared size
   * from the moment their header is in. A frame that would pass it is refused like an
   * oversized one (GOAWAY RESOURCE_EXHAUSTED), so a crowd of half-sent large frames cannot
   * exhaust memory. Default: 256 MiB, or a quarter of the heap limit if that is less.
   */
  maxBufferedInputBytes?: number;
  /**
   * Server-wide cap on response bytes waiting for slow readers. When it is passed, a
   * connection whose peer is not keeping up is closed (as for `maxWriteBufferBytes`)
   * rather than buffered further. Default: as `maxBufferedInputBytes`.
   */
  maxBufferedOutputBytes?: number;
  /**
   * Interval at which clients are expected to show life, in ms. A connection that sends
   * no complete frame for `heartbeatIntervalMs × (heartbeatMissLimit + 1)` while none of
   * its requests is in flight is closed (spec §bad input, last row). Default 5000.
   */
  heartbeatIntervalMs?: number;
  /** Heartbeats a client may miss before the server evicts it. Default 3. */
  heartbeatMissLimit?: number;
  /**
   * Open connections at most; one more is sent GOAWAY RESOURCE_EXHAUSTED and closed
   * before it can send anything. Default 10000.
   */
  maxConnections?: number;
  /**
   * Time a frame may take to arrive whole once its first byte is in, in ms; a peer that
   * dribbles a frame slower than that (slowloris) is sent GOAWAY and closed. Also the
   * TLS handshake timeout. Default 10000 (spec §bad input).
   */
  frameTimeoutMs?: number;
  /**
   * A new connection must complete a REQUEST, ONEWAY or PING within this long after it
   * is accepted (after its TLS handshake, with TLS), or it is closed: a connection that
   * only dribbles holds no slot of `maxConnections` for long. Default 5000.
   */
  firstFrameTimeoutMs?: number;
  /**
   * Serve TLS (the same framing inside), with `tls.createServer` options: `cert` and `key`;
   * for mutual TLS also `ca` and `requestCert: true` (clients without a certificate signed
   * by `ca` are refused). Default: plain TCP.
   */
  tls?: TlsOptions;
  /** Requests in flight on one connection; beyond it RESOURCE_EXHAUSTED. Default 32768. */
  maxConcurrentRequestsPerConnection?: number;
  /** Requests in flight in the whole server (its queue); beyond it RESOURCE_EXHAUSTED. Default 131072. */
  maxConcurrentRequests?: number;
  /**
   * Unsent response bytes one connection may hold (a client that stops reading); above it
   * the connection is closed rather than buffered forever. Default 64 MiB.
   */
  maxWriteBufferBytes?: number;
  /**
   * A connection whose responses have not drained for this long (the peer stopped
   * reading; the server stopped reading from it meanwhile) is closed, in ms. Default 30000.
   */
  writeTimeoutMs?: number;
  /** Compression of response bodies: `"gzip"` above the threshold, or `"none"`. Default `"none"`. */
  compression?: 'none' | 'gzip';
  /** Bodies at least this large are compressed when `compression` is `"gzip"`. Default 1024. */
  compressionThresholdBytes?: number;
  /**
   * Longest a call may take on this server, in ms from when its REQUEST was read; 0 for no
   * limit. A call whose client set no deadline, or a later one, is answered
   * DEADLINE_EXCEEDED when it runs out (the client is still waiting), never started if it
   * runs out while queued, and its handler's `ctx.signal` aborts. On the worker lane a
   * handler that ignores the signal meets the overrun watchdog (`overrunGraceMs`) as it
   * would past a client's deadline, so a cancelled call cannot hold a worker forever.
   * Default 0.
   */
  callTimeoutMs?: number;
  /** Time `close()` lets taken requests finish before it force-closes, in ms. Default 10000. */
  shutdownGraceMs?: number;
  /** Threads of the worker lane (fixed, never idled out). Default `os.availableParallelism()`. */
  workers?: number;
  /**
   * Requests taken and not yet answered (queued or running) per pooled lane (the worker
   * lane, the actor lane); beyond it RESOURCE_EXHAUSTED at once. Default 1024.
   */
  maxQueue?: number;
  /**
   * Threads of the actor lane, one shard of the keys each (fixed for the server's life, so a
   * key always reaches the same thread). Default `os.availableParallelism()`.
   */
  actorWorkers?: number;
  /** An actor without messages for this long is passivated (its `deactivate` hook runs). Default 60000 ms. */
  actorIdleMs?: number;
  /** Actors an actor-lane thread holds; past it the least recently used idle one is passivated. Default 10000. */
  maxActorsPerWorker?: number;
  /** Messages of one key taken and not yet answered; beyond it RESOURCE_EXHAUSTED at once. Default 256. */
  maxActorQueue?: number;
  /** Bytes of each worker's response ring (a power of two). Default 1 MiB. */
  ringBytes?: number;
  /** Requests packed into one worker task at most. Default 64. */
  maxBatch?: number;
  /**
   * A worker-lane handler still running this long after its deadline (or `callTimeoutMs`)
   * has its worker terminated and replaced: one stuck in synchronous code, and an async one
   * that ignores `ctx.signal` and never settles. The last resort; cooperative handlers see
   * `ctx.signal` first. Default 2000 ms.
   */
  overrunGraceMs?: number;
  /**
   * Heap cap of each worker thread in MiB: a request that makes its handler's heap grow
   * without bound kills only that worker (it is replaced), not the process. 0: no cap of its
   * own (the process's). Default: half the main thread's heap limit, at least 512.
   */
  workerMaxHeapMb?: number;
  /**
   * Workers write responses into SharedArrayBuffer rings drained by the reactor (true), or
   * return them through Piscina's result path (false, for comparison). The overrun
   * watchdog, batch placement and utilisation work either way. Default true.
   */
  responseRing?: boolean;
  /**
   * Piscina's wait mode for idle workers. `"async"` keeps their event loop running, so the
   * control plane (`server.workerStats()`) answers; `"sync"` blocks idle workers in
   * `Atomics.wait` (their stats then time out). Default `"async"`.
   */
  workerAtomics?: 'async' | 'sync';
  /**
   * How many steps (0–19) below the reactor the worker and actor lanes' threads run, in CPU
   * scheduling priority (Linux `nice`; ignored elsewhere). When the workers fill every core,
   * the reactor, which answers inline calls and writes every lane's responses, still gets the
   * CPU the moment it needs it; the workers take all it leaves. 0: same priority. Default 19
   * (the lowest: on some hosts 10 was not low enough; see docs/design.md, "Priority").
   */
  workerNice?: number;
  /**
   * While the reactor is busy (inline calls, gRPC, many connections: its event loop runs at
   * least half the time), run worker-lane batches on one worker fewer than the cores, so
   * that the reactor keeps a core; every worker runs again once it is quiet. Applies when
   * the lane has as many workers as cores or more, on 2 cores or more. Measured on 2 cores,
   * an inline Echo flood against a saturated lane: Echo served 12–49% more calls and the
   * lane 10–21% more, at the same p99 (docs/design.md, "A core kept for a busy reactor"). The actor lane's threads are not counted. `false`: the workers always all
   * run. Default true.
   */
  reserveReactorCore?: boolean;
  /**
   * Interceptors of every call, on every lane, run on the reactor before the call's lane has
   * it (see `ServerInterceptor`); a service's own (`addService`'s `interceptors`) run after
   * these. None by default.
   */
  interceptors?: readonly ServerInterceptor[];
  /**
   * Serve gRPC (HTTP/2) on the same port: a connection that opens with the HTTP/2 preface
   * (or, under TLS, negotiates ALPN `h2`) is a gRPC connection, served from the same
   * services, lanes, limits and interceptors; one that opens with `RR` (ALPN `ringrpc/1`, or
   * none) is a ringrpc connection. `false`: ringrpc only. Default true.
   */
  grpc?: boolean;
  /**
   * With `grpc`: answer `grpc.health.v1.Health/Check` (SERVING while listening, NOT_SERVING
   * while shutting down; per service, `NOT_FOUND` for one the server does not serve) unless
   * a service of that name was added. Default true.
   */
  grpcHealth?: boolean;
  /**
   * With `grpc`: answer the server reflection service (`grpc.reflection.v1` and
   * `v1alpha`), so that tools such as `grpcurl` can list and describe the services without
   * their .proto files. Default true.
   */
  grpcReflection?: boolean;
}

/** 256 MiB, or a quarter of this process's heap limit if that is less. */
const DEFAULT_MAX_BUFFERED_BYTES = Math.min(256 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 4));

/** The defaults of {@link ServerOptions}, in one place (`tls`, `registry` and `advertise` are unset by default). */
export const SERVER_DEFAULTS: Readonly<Required<Omit<ServerOptions, 'tls' | 'registry' | 'advertise' | 'interceptors'>>> = Object.freeze({
  host: '0.0.0.0',
  port: 0,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxMetaBytes: DEFAULT_MAX_META_BYTES,
  maxBufferedInputBytes: DEFAULT_MAX_BUFFERED_BYTES,
  maxBufferedOutputBytes: DEFAULT_MAX_BUFFERED_BYTES,
  maxConnections: 10_000,
  frameTimeoutMs: 10_000,
  firstFrameTimeoutMs: 5000,
  heartbeatIntervalMs: 5000,
  heartbeatMissLimit: 3,
  maxConcurrentRequestsPerConnection: 32_768,
  maxConcurrentRequests: 131_072,
  maxWriteBufferBytes: 64 * 1024 * 1024,
  writeTimeoutMs: 30_000,
  compression: 'none',
  compressionThresholdBytes: DEFAULT_COMPRESSION_THRESHOLD_BYTES,
  callTimeoutMs: 0,
  shutdownGraceMs: 10_000,
  workers: availableParallelism(),
  maxQueue: 1024,
  actorWorkers: availableParallelism(),
  actorIdleMs: 60_000,
  maxActorsPerWorker: 10_000,
  maxActorQueue: 256,
  ringBytes: 1024 * 1024,
  maxBatch: 64,
  overrunGraceMs: 2000,
  workerMaxHeapMb: Math.max(512, Math.round(getHeapStatistics().heap_size_limit / 2 / 1024 / 1024)),
  responseRing: true,
  workerAtomics: 'async',
  workerNice: 19,
  reserveReactorCore: true,
  grpc: true,
  grpcHealth: true,
  grpcReflection: true,
});

/** Validated server options with every default filled in. */
export type ResolvedServerOptions = Readonly<Required<Omit<ServerOptions, 'tls' | 'registry' | 'advertise' | 'interceptors'>>> & {
  readonly interceptors: readonly ServerInterceptor[];
  readonly tls: TlsOptions | undefined;
  readonly registry: string | Registry | undefined;
  readonly advertise: Readonly<AdvertiseOptions>;
  /** Derived: `heartbeatIntervalMs × (heartbeatMissLimit + 1)`. */
  readonly idleTimeoutMs: number;
  /** Derived: replies at least this long are gzipped (`compressionThresholdBytes` under `compression: 'gzip'`, else `Infinity`). */
  readonly compressAboveBytes: number;
};

/** Validates `options` once, with messages naming the field, and fills defaults. */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  v.knownKeys(options, [...Object.keys(SERVER_DEFAULTS), 'tls', 'registry', 'advertise', 'interceptors']);
  const o = { ...SERVER_DEFAULTS, ...v.stripUndefined(options) };
  v.nonEmptyString('host', o.host);
  v.port('port', o.port);
  v.positiveInteger('maxFrameBytes', o.maxFrameBytes);
  if (o.maxFrameBytes > 0xffff_ffff) throw v.invalid('maxFrameBytes', 'at most 4294967295 (the header field is 32 bits)', o.maxFrameBytes);
  v.positiveInteger('maxMetaBytes', o.maxMetaBytes);
  if (o.maxMetaBytes > o.maxFrameBytes) throw v.invalid('maxMetaBytes', `at most maxFrameBytes (${o.maxFrameBytes})`, o.maxMetaBytes);
  v.positiveInteger('maxBufferedInputBytes', o.maxBufferedInputBytes);
  v.positiveInteger('maxBufferedOutputBytes', o.maxBufferedOutputBytes);
  v.positiveInteger('maxConnections', o.maxConnections);
  v.positiveMs('frameTimeoutMs', o.frameTimeoutMs);
  v.positiveMs('firstFrameTimeoutMs', o.firstFrameTimeoutMs);
  const tls = options.tls;
  if (tls !== undefined) {
    if (tls === null || typeof tls !== 'object') throw v.invalid('tls', 'an object of tls.createServer options', tls);
    if (tls.cert === undefined && tls.pfx === undefined && tls.SNICallback === undefined) throw v.invalid('tls', 'given a cert and key (or pfx)', tls);
  }
  v.positiveMs('heartbeatIntervalMs', o.heartbeatIntervalMs);
  v.nonNegativeInteger('heartbeatMissLimit', o.heartbeatMissLimit);
  v.positiveInteger('maxConcurrentRequestsPerConnection', o.maxConcurrentRequestsPerConnection);
  v.positiveInteger('maxConcurrentRequests', o.maxConcurrentRequests);
  v.positiveInteger('maxWriteBufferBytes', o.maxWriteBufferBytes);
  v.positiveMs('writeTimeoutMs', o.writeTimeoutMs);
  v.oneOf('compression', o.compression, ['none', 'gzip'] as const);
  v.nonNegativeInteger('compressionThresholdBytes', o.compressionThresholdBytes);
  v.nonNegativeMs('callTimeoutMs', o.callTimeoutMs);
  v.nonNegativeMs('shutdownGraceMs', o.shutdownGraceMs);
  v.positiveInteger('workers', o.workers);
  v.positiveInteger('maxQueue', o.maxQueue);
  v.positiveInteger('actorWorkers', o.actorWorkers);
  v.positiveMs('actorIdleMs', o.actorIdleMs);
  v.positiveInteger('maxActorsPerWorker', o.maxActorsPerWorker);
  v.positiveInteger('maxActorQueue', o.maxActorQueue);
  v.positiveInteger('ringBytes', o.ringBytes);
  if (o.ringBytes < 1024 || (o.ringBytes & (o.ringBytes - 1)) !== 0) throw v.invalid('ringBytes', 'a power of two of at least 1024', o.ringBytes);
  v.positiveInteger('maxBatch', o.maxBatch);
  v.positiveMs('overrunGraceMs', o.overrunGraceMs);
  v.nonNegativeInteger('workerMaxHeapMb', o.workerMaxHeapMb);
  v.boolean('responseRing', o.responseRing);
  v.oneOf('workerAtomics', o.workerAtomics, ['async', 'sync'] as const);
  if (v.nonNegativeInteger('workerNice', o.workerNice) > 19) throw v.invalid('workerNice', 'an integer from 0 to 19', o.workerNice);
  v.boolean('reserveReactorCore', o.reserveReactorCore);
  v.boolean('grpc', o.grpc);
  v.boolean('grpcHealth', o.grpcHealth);
  v.boolean('grpcReflection', o.grpcReflection);
  const registry = options.registry;
  if (registry !== undefined) {
    if (typeof registry === 'string') {
      if (!isRegistryUri(registry)) throw v.invalid('registry', 'a registry URI (zk://…, ringrpc://…, static://…) or a Registry', registry);
      parseRegistryUri(registry); // a bad URI fails here, naming itself
    } else if (registry === null || typeof registry !== 'object' || typeof registry.register !== 'function') {
      throw v.invalid('registry', 'a registry URI or a Registry', registry);
    }
  }
  const advertise = options.advertise ?? {};
  if (advertise === null || typeof advertise !== 'object') throw v.invalid('advertise', 'an object', advertise);
  v.knownKeys(advertise, ['host', 'weight', 'metadata'], 'options.advertise');
  if (advertise.host !== undefined) v.nonEmptyString('advertise.host', advertise.host);
  if (advertise.weight !== undefined) v.positiveInteger('advertise.weight', advertise.weight);
  if (advertise.metadata !== undefined && (advertise.metadata === null || typeof advertise.metadata !== 'object'))
    throw v.invalid('advertise.metadata', 'an object of strings', advertise.metadata);
  return Object.freeze({
    ...o,
    tls,
    registry,
    advertise: Object.freeze({ ...advertise }),
    interceptors: v.functions<ServerInterceptor>('interceptors', options.interceptors),
    idleTimeoutMs: o.heartbeatIntervalMs * (o.heartbeatMissLimit + 1),
    compressAboveBytes: o.compression === 'gzip' ? o.compressionThresholdBytes : Infinity,
  });
}
