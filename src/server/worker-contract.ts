/**
 * The contract between the reactor and the worker threads: the only data that crosses.
 * Requests go over as one exact-size, transferred ArrayBuffer per Piscina task (a batch);
 * responses come back as whole RESPONSE frames in the worker's SharedArrayBuffer ring,
 * or, when the ring is full or a frame too large, in the task's returned buffer.
 *
 * Batch layout (little-endian):
 * ```
 * u32 count
 * count × { u32 slot, u32 requestId, u32 methodIndex, u32 compression, f64 deadline (epoch ms, 0 = none),
 *           u32 metaLength, u32 bodyLength, u32 peerLength, meta, body, peer (UTF-8) }
 * ```
 * The worker gets the raw Meta bytes and decodes the metadata only if the handler reads
 * `ctx.metadata`. Each request yields exactly one record (a frame, or an empty "no
 * response" record for a cancelled one), which is how the reactor knows a slot is free.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { RingMemory } from '../ring/response-ring.js';

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
  /** Int32 per slot: the worker sets 1 when it takes the request up. */
  readonly started: SharedArrayBuffer;
  readonly maxFrameBytes: number;
  /** Response bodies at least this large are gzipped; Infinity = never. */
  readonly compressAboveBytes: number;
}

/** One request of a batch, as the worker reads it. */
export interface BatchEntry {
  readonly slot: number;
  readonly requestId: number;
  readonly methodIndex: number;
  readonly compression: number;
  readonly deadline: number;
  readonly meta: Uint8Array;
  readonly body: Uint8Array;
  readonly peer: string;
}

/** What a batch task resolves with: records that did not go through the ring, if any. */
export type BatchResult = ArrayBuffer | null;

/** A request queued on the reactor side, ready to be packed (its peer already encoded). */
export interface PendingEntry extends Omit<BatchEntry, 'peer'> {
  readonly peer: Buffer;
}

const FIXED = 4 * 4 + 8 + 3 * 4;

/** Packs entries into one exact-size, unpooled ArrayBuffer (one copy of each body). */
export function encodeBatch(entries: readonly PendingEntry[]): ArrayBuffer {
  let size = 4;
  for (const e of entries) size += FIXED + e.meta.length + e.body.length + e.peer.length;
  const buffer = new ArrayBuffer(size);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  view.setUint32(0, entries.length, true);
  let at = 4;
  for (const e of entries) {
    view.setUint32(at, e.slot, true);
    view.setUint32(at + 4, e.requestId, true);
    view.setUint32(at + 8, e.methodIndex, true);
    view.setUint32(at + 12, e.compression, true);
    view.setFloat64(at + 16, e.deadline === Infinity ? 0 : e.deadline, true);
    view.setUint32(at + 24, e.meta.length, true);
    view.setUint32(at + 28, e.body.length, true);
    view.setUint32(at + 32, e.peer.length, true);
    at += FIXED;
    bytes.set(e.meta, at);
    at += e.meta.length;
    bytes.set(e.body, at);
    at += e.body.length;
    bytes.set(e.peer, at);
    at += e.peer.length;
  }
  return buffer;
}

/** Unpacks a batch in the worker; meta and body are views of the transferred buffer. */
export function decodeBatch(buffer: ArrayBuffer): BatchEntry[] {
  const view = new DataView(buffer);
  const count = view.getUint32(0, true);
  const out: BatchEntry[] = new Array(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const metaLength = view.getUint32(at + 24, true);
    const bodyLength = view.getUint32(at + 28, true);
    const peerLength = view.getUint32(at + 32, true);
    const metaStart = at + FIXED;
    const bodyStart = metaStart + metaLength;
    const peerStart = bodyStart + bodyLength;
    const deadline = view.getFloat64(at + 16, true);
    out[i] = {
      slot: view.getUint32(at, true),
      requestId: view.getUint32(at + 4, true),
      methodIndex: view.getUint32(at + 8, true),
      compression: view.getUint32(at + 12, true),
      deadline: deadline === 0 ? Infinity : deadline,
      meta: new Uint8Array(buffer, metaStart, metaLength),
      body: new Uint8Array(buffer, bodyStart, bodyLength),
      peer: Buffer.from(buffer, peerStart, peerLength).toString('utf8'),
    };
    at = peerStart + peerLength;
  }
  return out;
}

/**
 * The worker script: compiled JS next to the compiled package, or the TypeScript source
 * through a tsx bootstrap when ringrpc itself runs from source (a Worker cannot take a
 * `.ts` entry directly, even under `--import tsx`).
 *
 * Workers get no explicit `execArgv`: left unset, a Worker inherits the main thread's
 * options (`--import tsx`, `--enable-source-maps`, ...) as they were parsed at start-up.
 * Passed explicitly, the list is parsed again, and Node rejects in it every V8 and
 * per-process flag (`--max-old-space-size`, `--expose-gc`), so a server started with one
 * of those could not start its pool. Those flags are process-wide and reach the workers anyway.
 */
export function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const root = path.resolve(path.dirname(here), '..', '..');
  return here.endsWith('.ts') ? path.join(root, 'workers', 'dev-bootstrap.mjs') : path.join(root, 'workers', 'handler-worker.js');
}
