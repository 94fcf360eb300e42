/**
 * A thread of the worker lane or of the actor lane (a Piscina worker). It loads the
 * handler modules once, claims a response ring, and for each batch runs each request
 * through the call pipeline (the same as the inline lane's), which writes its whole
 * RESPONSE frame into the ring. On the worker lane the requests of a batch run at once
 * (async handlers concurrently); on the actor lane each goes to the actor of its key,
 * which runs its messages one at a time (actor-host.ts). It never throws across the
 * thread boundary: every request ends as one record with a status.
 */
import { threadId, workerData, parentPort, MessageChannel } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { move } from 'piscina';
import * as Comlink from 'comlink';
import protobuf from 'protobufjs';
import { RpcError } from '../src/errors.js';
import { Status } from '../src/status.js';
import { defineService, localMethodName, type MethodDefinition } from '../src/codec/service-definition.js';
import { runCall, type PipelineSettings } from '../src/pipeline/call-pipeline.js';
import type { Handler } from '../src/pipeline/handler-context.js';
import { RecordBuffer, RingProducer } from '../src/worker-lane/response-ring.js';
import { RunStamps } from '../src/worker-lane/run-times.js';
import { decodeBatch, REQUEST_COMPRESSION } from '../src/worker-lane/batch-codec.js';
import type { BatchResult, WorkerInit } from '../src/worker-lane/worker-init.js';
import { AbortPoll, RunningCalls, WorkerCall, type RecordSink } from '../src/worker-lane/worker-call.js';
import { findImplementation } from '../src/server/find-implementation.js';
import { importUserModule } from '../src/util/import-module.js';
import { ActorHost, type ActorHooks, type ActorInfo } from '../src/actor-lane/actor-host.js';
import { lowerThreadPriority } from '../src/worker-lane/thread-priority.js';
import { StreamRecordWriter } from '../src/worker-lane/stream-records.js';
import { runWorkerStream, type WorkerStreamContext } from '../src/worker-lane/worker-stream.js';
import { ThreadRequests } from '../src/worker-lane/thread-requests.js';

const init = workerData as WorkerInit;
lowerThreadPriority(init.nice); // the reactor comes first (options.workerNice)
const started = new Int32Array(init.started);
const shared = new Int32Array(init.sharedControl);
const aborts = new AbortPoll(new Int32Array(init.cancelled));
const stamps = new RunStamps(init.runTimes, init.reactorClockOrigin);
const settings: PipelineSettings = { ...init.pipeline, zlib: 'sync' };

interface WorkerMethod {
  readonly definition: MethodDefinition;
  readonly handler: Handler;
  /** The lifecycle hooks of its module (the actor lane's). */
  readonly hooks: ActorHooks;
  readonly info: ActorInfo;
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
    methods.push({
      definition: definitions.get(serviceName)!.methods[localMethodName(methodName)]!,
      handler: handler as Handler,
      hooks: actorHooks(modules.get(spec.module)!, spec.module),
      info: { service: serviceName },
    });
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
const running = new RunningCalls((slot) => ring?.setOverdue(slot));

/**
 * A call's handler is about to run. From here on the call is this thread's: if the thread
 * dies, it failed with it (it may be what killed it) and is not run again elsewhere. One
 * that ended before its handler (cancelled, late, undecodable) never counts as begun, so
 * after a crash it runs elsewhere or is answered as never run.
 */
function begin(slot: number): void {
  Atomics.store(started, slot, threadId); // who: a stream outlives its batch, and may die with this thread
  stats.requests++;
  stamps.began(slot);
}
/** Busy time not yet added to the ring's whole-millisecond counter. */
let busyCarry = 0;

function addBusy(ms: number): void {
  stats.busyMs += ms;
  busyCarry += ms;
  const whole = Math.floor(busyCarry);
  if (whole > 0 && ring !== undefined) {
    ring.addBusy(whole);
    busyCarry -= whole;
  }
}

/** On the actor lane: this thread's actors; their busy time is each message's synchronous part. */
const actors = init.actors === undefined ? undefined : new ActorHost(init.actors, addBusy);

/** The `activate` and `deactivate` exports of a handler module, checked once. */
function actorHooks(module: Record<string, unknown>, path: string): ActorHooks {
  for (const name of ['activate', 'deactivate']) {
    if (module[name] !== undefined && typeof module[name] !== 'function') throw new Error(`worker module ${path} exports ${name}, which is not a function`);
  }
  return { activate: module['activate'] as ActorHooks['activate'], deactivate: module['deactivate'] as ActorHooks['deactivate'] };
}

// The control plane: typed calls from the reactor (stats, …) over a dedicated channel,
// never the data path. The port travels to the reactor as a pool 'message'.
{
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(
    {
      stats: () => ({ threadId, hasRing: responseRing !== undefined, ...stats, heapUsedBytes: getHeapStatistics().used_heap_size }),
      passivateAll: () => actors?.passivateAll() ?? 0,
    },
    port1 as unknown as Comlink.Endpoint,
  );
  parentPort!.postMessage({ ringrpcControl: port2, threadId }, [port2]);
}

// The data path of stream requests (request-relay.ts): a port of its own, not comlink's.
const requests = (() => {
  const { port1, port2 } = new MessageChannel();
  port1.unref(); // the pool's tasks keep the thread alive, not this port
  parentPort!.postMessage({ ringrpcStreams: port2, threadId }, [port2]);
  return new ThreadRequests(port1, settings.maxFrameBytes);
})();

/**
 * Streams write into the ring only (they outlive their batch, so its fallback is no way
 * out for them): without a ring they are refused. On the worker lane a stream runs on
 * past its batch, so that one long stream holds neither the thread's batches nor the lane's
 * tasks; on the actor lane its key's turn lasts until it ends.
 */
const streams: WorkerStreamContext | undefined =
  ring === undefined
    ? undefined
    : { credits: new Int32Array(init.credits), records: new StreamRecordWriter(ring), requests, settings, mark: (slot) => ring!.setCurrent(slot) };

/** The final record of a stream, after its MESSAGE records. */
const streamSink: RecordSink = (slot, status, parts) => {
  stamps.ended(slot);
  void streams!.records.write(slot, status, parts);
};

/** Runs a stream (see {@link runWorkerStream}); its promise settles once its last record is in the ring. */
function runStream(call: WorkerCall): Promise<void> {
  ring?.setCurrent(call.entry.slot);
  try {
    const done = runWorkerStream(call, streams!);
    running.add(call, done);
    return done;
  } finally {
    ring?.setCurrent(-1);
  }
}

/** Writes one record: into the ring, or into the fallback when the ring is off or refuses it. */
function emitter(fallback: RecordBuffer): RecordSink {
  return (slot, status, parts) => {
    stamps.ended(slot);
    if (responseRing?.write(slot, status, parts) === true) return;
    stats.ringFallbacks++;
    fallback.add(slot, status, parts);
  };
}

/**
 * Runs one call through the pipeline; a promise while its handler is under way. The
 * watchdog's marker covers the synchronous part (decode, handler, encode): that is when
 * the thread can be stuck; an async handler that waits is not, and sees its signal.
 */
function run(call: WorkerCall): Promise<void> | undefined {
  ring?.setCurrent(call.entry.slot);
  try {
    const { body, compression } = call.entry;
    const settled = runCall(call, body, compression & REQUEST_COMPRESSION, settings);
    if (settled !== undefined) running.add(call, settled);
    return settled;
  } catch (err) {
    // A bug (the pipeline itself never throws): this request fails, the batch goes on.
    call.replyError(new RpcError(Status.INTERNAL, `worker failed on request ${call.entry.requestId}: ${(err as Error).message}`));
    return undefined;
  } finally {
    ring?.setCurrent(-1);
  }
}

/** The Piscina task: one batch in; the records that missed the ring (if any) out. */
export default async function runBatch(task: ArrayBuffer): Promise<BatchResult> {
  const began = performance.now();
  ring?.startBatch();
  stats.batches++;
  const fallback = new RecordBuffer();
  const sink = emitter(fallback);
  const pending: Array<Promise<void>> = [];
  for (const entry of decodeBatch(task)) {
    const method = methods[entry.methodIndex]!;
    const streaming = method.definition.kind !== 'unary';
    if (streaming && streams === undefined) {
      const refused = new WorkerCall(entry, method.definition, method.handler, sink, aborts, begin);
      refused.replyError(
        new RpcError(Status.UNAVAILABLE, `worker thread ${threadId} has no response ring for streams; the call may be retried`, { notRun: 'refused' }),
      );
      continue;
    }
    const call = new WorkerCall(entry, method.definition, method.handler, streaming ? streamSink : sink, aborts, begin);
    if (actors === undefined && streaming) {
      void runStream(call); // not awaited by the batch: it runs on past it
      continue;
    }
    if (actors === undefined) {
      const settled = run(call);
      if (settled !== undefined) pending.push(settled);
      continue;
    }
    pending.push(
      actors.deliver(call.key, method.info, method.hooks, {
        run: (actor) => {
          call.actor = actor;
          return streaming ? runStream(call) : run(call);
        },
        fail: (error) => call.replyError(error),
      }),
    );
  }
  if (pending.length > 0) await Promise.all(pending);
  ring?.endBatch();
  // An actor-lane batch waits on other keys' messages too: its thread's busy time is counted per message.
  if (actors === undefined) addBusy(performance.now() - began);
  return fallback.isEmpty ? null : (move(fallback.take()) as ArrayBuffer);
}
