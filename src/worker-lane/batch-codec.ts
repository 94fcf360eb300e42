/**
 * The worker lane's batch: requests go to a worker thread as one exact-size, transferred
 * ArrayBuffer per Piscina task.
 *
 * Batch layout (little-endian):
 * ```
 * u32 count
 * count × { u32 slot, u32 requestId, u32 methodIndex, u32 compression, f64 deadline (epoch ms, 0 = none),
 *           u32 metaLength, u32 bodyLength, u32 peerLength, meta, body, peer (UTF-8) }
 * ```
 * `compression`: the request body's in its low byte ({@link REQUEST_COMPRESSION}), and
 * {@link REPLIES_PLAIN} when the caller takes no compressed reply (a gRPC client that did
 * not list gzip), so the thread sends its replies plain whatever the server's option.
 * The worker gets the raw Meta bytes and decodes the metadata only if the handler reads
 * `ctx.metadata`. Each request yields exactly one record (a frame, or an empty "no
 * response" record for a cancelled one), which is how the reactor knows a slot is free.
 */

import type { CallProtocol, Peer } from '../pipeline/handler-context.js';

const peerBytes = new WeakMap<Peer, Buffer>();

/** The bits of a batch entry's `compression` that say how the request body is compressed. */
export const REQUEST_COMPRESSION = 0xff;
/** A batch entry's `compression` flag: its replies must go uncompressed. */
export const REPLIES_PLAIN = 0x100;

/**
 * A call's peer as batches carry it: `host:port`, encoded once per connection (its `Peer`
 * object); as JSON when there is more to carry, the client certificate's identity or a
 * gRPC call's protocol (also once per connection) or the caller's identity an interceptor
 * set (per call).
 */
export function encodedPeer(peer: Peer, identity?: unknown, protocol: CallProtocol = 'ringrpc'): Buffer {
  const grpc = protocol === 'grpc' ? { protocol } : undefined;
  if (identity !== undefined) return Buffer.from(JSON.stringify({ ...peer, ...grpc, identity }));
  let bytes = peerBytes.get(peer);
  if (bytes === undefined) {
    bytes = Buffer.from(peer.certificate === undefined && grpc === undefined ? `${peer.address}:${peer.port}` : JSON.stringify({ ...peer, ...grpc }));
    peerBytes.set(peer, bytes);
  }
  return bytes;
}

/** Reads what {@link encodedPeer} wrote: the peer, the caller's identity if one was set, and the protocol. */
export function decodePeer(encoded: string): { peer: Peer; identity: unknown; protocol: CallProtocol } {
  if (!encoded.startsWith('{')) {
    const colon = encoded.lastIndexOf(':');
    return { peer: { address: encoded.slice(0, colon), port: Number(encoded.slice(colon + 1)) }, identity: undefined, protocol: 'ringrpc' };
  }
  const { identity, protocol, ...peer } = JSON.parse(encoded) as Peer & { identity?: unknown; protocol?: CallProtocol };
  return { peer, identity, protocol: protocol === 'grpc' ? 'grpc' : 'ringrpc' };
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
      body: Buffer.from(buffer, bodyStart, bodyLength), // a Buffer view: decoded bytes fields are Buffers without another view
      peer: Buffer.from(buffer, peerStart, peerLength).toString('utf8'),
    };
    at = peerStart + peerLength;
  }
  return out;
}
