/**
 * What a worker thread of the worker lane is started with, and where its script is.
 * Requests then go over as batches (batch-codec.ts); responses come back as whole
 * RESPONSE frames in the worker's SharedArrayBuffer ring (response-ring.ts), or, when the
 * ring is full or a frame too large, in the task's returned buffer.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { PipelineSettings } from '../pipeline/call-pipeline.js';
import type { RingMemory } from './response-ring.js';
import type { ActorThreadInit } from '../actor-lane/actor-host.js';

/** What a worker is started with (Piscina `workerData`; SharedArrayBuffers are shared, not copied). */
export interface WorkerInit {
  /** protobufjs JSON of every service with worker-lane methods. */
  readonly services: ReadonlyArray<{ readonly name: string; readonly root: object; readonly module: string }>;
  /** methodIndex → [service name, method name]. */
  readonly methods: ReadonlyArray<readonly [string, string]>;
  /**
   * One per worker and a spare each. A worker's ring is also its control block (running
   * request for the overrun watchdog, batch start for placement, busy time), used whether
   * or not responses go through it.
   */
  readonly rings: readonly RingMemory[];
  /** Responses go into the ring (true) or back through Piscina's result path (false). */
  readonly responseRing: boolean;
  /** Doorbell and sleeping flag shared by all rings. */
  readonly sharedControl: SharedArrayBuffer;
  /** Int32 per slot: 1 once the call was cancelled (CANCEL, client gone, shutdown). */
  readonly cancelled: SharedArrayBuffer;
  /** Int32 per slot: the worker sets its threadId when it takes the request up. */
  readonly started: SharedArrayBuffer;
  /** Int32 per slot: the credit of a server stream's replies (thread-stream.ts). */
  readonly credits: SharedArrayBuffer;
  /** Two Float64 per slot: when a timed call's handler began and its response was written (run-times.ts). */
  readonly runTimes: SharedArrayBuffer;
  /** The reactor's `clockOrigin()`, to put the worker's stamps on the reactor's clock. */
  readonly reactorClockOrigin: number;
  /** How the call pipeline runs in the worker (its zlib is synchronous there). */
  readonly pipeline: Omit<PipelineSettings, 'zlib'>;
  /** Set for a thread of the actor lane: its shard and how it keeps its actors. */
  readonly actors: ActorThreadInit | undefined;
  /** Steps below the reactor's CPU priority the thread runs at (`workerNice`; thread-priority.ts). */
  readonly nice: number;
}

/** The services and methods the workers load, and each method's index in a batch. */
export class WorkerManifest {
  private readonly index = new Map<MethodDefinition, number>();
  private readonly services: Array<WorkerInit['services'][number]> = [];
  private readonly methods: Array<WorkerInit['methods'][number]> = [];

  /** Adds worker-lane methods of a service, whose handlers live in `module` (an absolute path). */
  add(service: ServiceDefinition, methods: readonly MethodDefinition[], module: string): void {
    if (!existsSync(module)) throw new RpcError(Status.NOT_FOUND, `worker module ${module} of ${service.name} does not exist`);
    this.services.push({ name: service.name, root: service.root.toJSON(), module });
    for (const method of methods) {
      this.index.set(method, this.methods.length);
      this.methods.push([service.name, method.name]);
    }
  }

  indexOf(method: MethodDefinition): number {
    return this.index.get(method)!;
  }

  get contents(): Pick<WorkerInit, 'services' | 'methods'> {
    return { services: this.services, methods: this.methods };
  }
}

/** What a batch task resolves with: records that did not go through the ring, if any. */
export type BatchResult = ArrayBuffer | null;

/**
 * The worker script (workers/handler-worker): compiled JS in the package, or the
 * TypeScript source through a tsx bootstrap when ringrpc itself runs from source (a Worker
 * cannot take a `.ts` entry directly, even under `--import tsx`).
 *
 * Workers get no explicit `execArgv`: left unset, a Worker inherits the main thread's
 * options (`--import tsx`, `--enable-source-maps`, ...) as they were parsed at start-up.
 * Passed explicitly, the list is parsed again, and Node rejects in it every V8 and
 * per-process flag (`--max-old-space-size`, `--expose-gc`), so a server started with one
 * of those could not start its pool. Those flags are process-wide and reach the workers anyway.
 */
export function workerEntry(): string {
  // Both are named in package.json's "imports", so this module may move without them.
  const specifier = import.meta.url.endsWith('.ts') ? '#ringrpc/handler-worker-source' : '#ringrpc/handler-worker';
  return fileURLToPath(import.meta.resolve(specifier));
}
