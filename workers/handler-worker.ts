/**
 * The worker-lane thread (a Piscina worker). It loads the handler modules once, claims a
 * response ring, and for each batch: marks each request started, checks its cancel flag and deadline,
 * decompresses and decodes it, runs its handler (async handlers run concurrently),
 * encodes the reply and writes the whole RESPONSE frame into its ring. It never throws
 * across the thread boundary: every request ends as one record with a status.
 */
import { threadId, workerData, parentPort, MessageChannel } from 'node:worker_threads';
import { gunzipSync, gzipSync } from 'node:zlib';
import { getHeapStatistics } from 'node:v8';
import { move } from 'piscina';
import * as Comlink from 'comlink';
import protobuf from 'protobufjs';
import { RpcError } from '../src/errors.js';
import { Status } from '../src/status.js';
import { defineService, localMethodName, type MethodDefinition } from '../src/codec/service-definition.js';
import { Compression, FrameType, HEADER_BYTES } from '../src/protocol/constants.js';
import { writeHeader } from '../src/protocol/frame.js';
import { decodeMeta, encodeMeta } from '../src/protocol/meta.js';
import { RecordBuffer, RingProducer } from '../src/ring/response-ring.js';
import { decodeBatch, type BatchEntry, type BatchResult, type WorkerInit } from '../src/server/worker-contract.js';
import { findImplementation } from '../src/server/find-implementation.js';
import type { Handler, HandlerContext, Peer } from '../src/server/handler-context.js';
import { importUserModule } from '../src/util/import-module.js';

const init = workerData as WorkerInit;
const cancelled = new Int32Array(init.cancelled);
const started = new Int32Array(init.started);
const shared = new Int32Array(init.sharedControl);
const EMPTY = new Uint8Array(0);

interface WorkerMethod {
  readonly definition: MethodDefinition;
  readonly handler: Handler;
}

// Resolve every worker-lane method once, at start-up: a module that does not implement
// one fails here, and the reactor reports it when the server starts.
const methods: WorkerMethod[] = [];
{
  const definitions = new Map<string, ReturnType<typeof defineService>>();
  const modules = new Map<string, Record<string, unknown>>();
  for (const s of init.services) {
    definitions.set(s.name, defineService(protobuf.Root.fromJSON(s.root as protobuf.INamespace), s.name));
    if (!modules.has(s.module)) modules.set(s.module, await importUserModule(s.module));
  }
  for (const [serviceName, methodName] of init.methods) {
    const spec = init.services.find((s) => s.name === serviceName)!;
    const impl = findImplementation(modules.get(spec.module)!, serviceName);
    const handler = impl?.[localMethodName(methodName)] ?? impl?.[methodName];
    if (typeof handler !== 'function') throw new Error(`worker module ${spec.module} does not implement ${serviceName}/${methodName}`);
    methods.push({ definition: definitions.get(serviceName)!.methods[localMethodName(methodName)]!, handler: handler as Handler });
  }
}

// Claim a free ring; with none free (all held by dying workers) every response takes the
// fallback path, which is slower but loses nothing.
let ring: RingProducer | undefined;
for (const memory of init.rings) {
  const candidate = new RingProducer(memory, shared);
  if (candidate.claim(threadId)) {
    ring = candidate;
    break;
  }
}
/** Where responses go: the ring, unless it is switched off (then it is only a control block). */
const responseRing = init.responseRing ? ring : undefined;

const stats = { batches: 0, requests: 0, busyMs: 0, ringFallbacks: 0 };
/** Busy time not yet added to the ring's whole-millisecond counter. */
let busyCarry = 0;

// The control plane: typed calls from the reactor (stats, …) over a dedicated channel,
// never the data path. The port travels to the reactor as a pool 'message'.
{
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(
    { stats: () => ({ threadId, hasRing: responseRing !== undefined, ...stats, heapUsedBytes: getHeapStatistics().used_heap_size }) },
    port1 as unknown as Comlink.Endpoint,
  );
  parentPort!.postMessage({ ringrpcControl: port2, threadId }, [port2]);
}

/**
 * Calls whose handler looked at `ctx.signal`, by slot. While any runs, a 5 ms poll checks
 * their cancel flags and deadlines: the reactor marks a cancel in shared memory, and an
 * async handler sees it without its thread being killed.
 */
const watched = new Map<number, WorkerCall>();
let pollTimer: NodeJS.Timeout | undefined;

function poll(): void {
  const now = Date.now();
  for (const call of watched.values()) call.check(now);
  if (watched.size === 0 && pollTimer !== undefined) {
    clearInterval(pollTimer);
    pollTimer = undefined;
  }
}

/** A call on the worker lane; also its handler's ctx (the same shape as on the inline lane). */
class WorkerCall implements HandlerContext {
  private controller: AbortController | undefined;
  private decodedMetadata: Record<string, string> | undefined;
  private outgoing: Record<string, string> | undefined;
  private parsedPeer: Peer | undefined;

  constructor(
    readonly entry: BatchEntry,
    readonly definition: MethodDefinition,
  ) {}

  get peer(): Peer {
    if (this.parsedPeer === undefined) {
      const colon = this.entry.peer.lastIndexOf(':');
      this.parsedPeer = { address: this.entry.peer.slice(0, colon), port: Number(this.entry.peer.slice(colon + 1)) };
    }
    return this.parsedPeer;
  }

  get service(): string {
    return this.definition.service;
  }
  get method(): string {
    return this.definition.name;
  }
  get requestId(): number {
    return this.entry.requestId;
  }
  get deadline(): number {
    return this.entry.deadline;
  }
  get metadata(): Readonly<Record<string, string>> {
    return (this.decodedMetadata ??= decodeMeta(this.entry.meta).metadata);
  }
  get responseMetadata(): Record<string, string> {
    return (this.outgoing ??= {});
  }
  get responseMetadataIfSet(): Record<string, string> | undefined {
    return this.outgoing;
  }
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      watched.set(this.entry.slot, this);
      pollTimer ??= setInterval(poll, 5);
      this.check(Date.now());
    }
    return this.controller.signal;
  }

  check(now: number): void {
    if (this.controller === undefined || this.controller.signal.aborted) return;
    if (Atomics.load(cancelled, this.entry.slot) === 1) {
      this.controller.abort(new RpcError(Status.CANCELLED, `${this.service}/${this.method} cancelled by the client`));
    } else if (now >= this.entry.deadline) {
      this.controller.abort(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${this.service}/${this.method} passed while its handler ran`));
    }
  }

  done(): void {
    watched.delete(this.entry.slot);
  }
}

/** Writes one record: into the ring, or into the fallback when the ring is off or refuses it. */
function emit(fallback: RecordBuffer, slot: number, status: number, parts: readonly Uint8Array[]): void {
  if (responseRing?.write(slot, status, parts) === true) return;
  stats.ringFallbacks++;
  fallback.add(slot, status, parts);
}

function emitFrame(fallback: RecordBuffer, entry: BatchEntry, status: number, meta: Uint8Array, body: Uint8Array): void {
  const head = Buffer.allocUnsafe(HEADER_BYTES);
  writeHeader(head, 0, FrameType.RESPONSE, entry.requestId, meta.length, body.length);
  emit(fallback, entry.slot, status, [head, meta, body]);
}

function emitError(fallback: RecordBuffer, entry: BatchEntry, error: RpcError, metadata?: Record<string, string>): void {
  const md = metadata === undefined ? error.metadata : { ...error.metadata, ...metadata };
  emitFrame(fallback, entry, error.code, encodeMeta({ status: error.code, message: error.rawMessage, metadata: md }), EMPTY);
}

function reply(fallback: RecordBuffer, call: WorkerCall, value: unknown): void {
  const type = call.definition.responseType;
  const problem = value === null || typeof value !== 'object' ? 'it is not an object' : type.verify(value as Record<string, unknown>);
  if (problem) {
    emitError(fallback, call.entry, new RpcError(Status.INTERNAL, `handler of ${call.service}/${call.method} returned a reply that is not a ${type.fullName.slice(1)}: ${problem}`));
    return;
  }
  let body: Uint8Array;
  try {
    body = type.encode(value as Record<string, unknown>).finish();
  } catch (err) {
    emitError(fallback, call.entry, new RpcError(Status.INTERNAL, `reply of ${call.service}/${call.method} does not encode: ${(err as Error).message}`));
    return;
  }
  let compression: number = Compression.NONE;
  if (body.length >= init.compressAboveBytes) {
    body = gzipSync(body);
    compression = Compression.GZIP;
  }
  const metadata = call.responseMetadataIfSet;
  const meta = metadata !== undefined || compression !== Compression.NONE ? encodeMeta({ metadata, compression }) : EMPTY;
  emitFrame(fallback, call.entry, Status.OK, meta, body);
}

/** Runs one request; returns a promise only when its handler is asynchronous. */
function runOne(entry: BatchEntry, fallback: RecordBuffer): Promise<void> | undefined {
  // From here on the request is this thread's: if the thread dies, the request failed with
  // it (it may be what killed it) and is not run again elsewhere.
  Atomics.store(started, entry.slot, 1);
  const method = methods[entry.methodIndex]!;
  const site = method.definition.path;
  if (Atomics.load(cancelled, entry.slot) === 1) {
    emit(fallback, entry.slot, Status.CANCELLED, []); // no response owed; the empty record frees the slot
    return undefined;
  }
  if (Date.now() >= entry.deadline) {
    emitError(fallback, entry, new RpcError(Status.DEADLINE_EXCEEDED, `${site} not started: its deadline passed while it waited in the worker queue`));
    return undefined;
  }
  let bytes = entry.body;
  if (entry.compression !== Compression.NONE) {
    if (entry.compression !== Compression.GZIP) {
      emitError(fallback, entry, new RpcError(Status.INVALID_ARGUMENT, `unsupported compression ${entry.compression} (expected 0 NONE or 1 GZIP)`));
      return undefined;
    }
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: init.maxFrameBytes });
    } catch (err) {
      const tooBig = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      emitError(fallback, entry, new RpcError(Status.INVALID_ARGUMENT, tooBig ? `decompressed body exceeds the limit of ${init.maxFrameBytes} bytes` : `body does not decompress as gzip: ${(err as Error).message}`));
      return undefined;
    }
  }
  let request: unknown;
  try {
    request = method.definition.requestType.decode(bytes);
  } catch (err) {
    emitError(fallback, entry, new RpcError(Status.INVALID_ARGUMENT, `request body does not decode as ${method.definition.requestType.fullName.slice(1)}: ${(err as Error).message}`));
    return undefined;
  }
  const call = new WorkerCall(entry, method.definition);
  stats.requests++;
  let result: unknown;
  // The watchdog's marker covers only the handler's synchronous part: that is when the
  // thread can be stuck; an async handler that waits is not, and sees its signal.
  ring?.setCurrent(entry.slot);
  try {
    result = method.handler(request, call);
  } catch (err) {
    call.done();
    emitError(fallback, entry, RpcError.from(err), call.responseMetadataIfSet);
    return undefined;
  } finally {
    ring?.setCurrent(-1);
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        call.done();
        reply(fallback, call, value);
      },
      (err: unknown) => {
        call.done();
        emitError(fallback, entry, RpcError.from(err), call.responseMetadataIfSet);
      },
    );
  }
  call.done();
  reply(fallback, call, result);
  return undefined;
}

/** The Piscina task: one batch in; the records that missed the ring (if any) out. */
export default async function runBatch(task: ArrayBuffer): Promise<BatchResult> {
  const began = performance.now();
  ring?.startBatch();
  stats.batches++;
  const fallback = new RecordBuffer();
  const pending: Array<Promise<void>> = [];
  for (const entry of decodeBatch(task)) {
    try {
      const running = runOne(entry, fallback);
      if (running !== undefined) pending.push(running);
    } catch (err) {
      // A bug while encoding a reply, say: this request fails, the batch goes on.
      emitError(fallback, entry, new RpcError(Status.INTERNAL, `worker failed on request ${entry.requestId}: ${(err as Error).message}`));
    }
  }
  if (pending.length > 0) await Promise.all(pending);
  ring?.endBatch();
  const busy = performance.now() - began;
  stats.busyMs += busy;
  busyCarry += busy;
  const whole = Math.floor(busyCarry);
  if (whole > 0 && ring !== undefined) {
    ring.addBusy(whole);
    busyCarry -= whole;
  }
  return fallback.isEmpty ? null : (move(fallback.take()) as ArrayBuffer);
}
