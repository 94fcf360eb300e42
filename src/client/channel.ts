import net from 'node:net';
import type { MethodDefinition } from '../codec/service-definition.js';
import { RpcError, statusFromSystemError } from '../errors.js';
import { Status } from '../status.js';
import { Compression, FrameType } from '../protocol/constants.js';
import { compress, decompress } from '../protocol/compression.js';
import { FrameDecoder, FrameError } from '../protocol/frame-decoder.js';
import type { Frame } from '../protocol/frame.js';
import { decodeMeta, encodeMeta, type Meta } from '../protocol/meta.js';
import { RequestIdAllocator } from '../protocol/request-id-allocator.js';
import { FrameWriter } from '../transport/frame-writer.js';
import { channels } from '../util/diagnostics.js';
import type { ResolvedClientOptions } from './client-options.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { PendingCall } from './pending-call.js';

/**
 * - `connecting`: TCP connect in progress (calls are queued in the socket meanwhile);
 * - `ready`: connected;
 * - `draining`: takes no new calls (GOAWAY received, or request ids spent); its pending
 *   calls may still be answered;
 * - `closed`: the socket is gone; every pending call has been rejected.
 */
export type ChannelState = 'connecting' | 'ready' | 'draining' | 'closed';

/** What a caller asks of one call. */
export interface ChannelCall {
  readonly method: MethodDefinition;
  readonly body: Uint8Array;
  /** Deadline in ms from now sent as `Meta.timeout_ms` (0: none). */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly metadata: Record<string, string> | undefined;
  readonly onMetadata?: ((metadata: Readonly<Record<string, string>>) => void) | undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * One multiplexed TCP connection to one server: thousands of calls in flight, matched
 * by request_id. Owns each call's deadline and cancellation; a lost connection rejects
 * every pending call at once with UNAVAILABLE.
 */
export class Channel {
  state: ChannelState = 'connecting';
  readonly address: string;
  readonly pending = new Map<number, PendingCall>();
  private readonly socket: net.Socket;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly ids: RequestIdAllocator;
  private connectTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  /** Meta prefix (service + method fields) per method, encoded once. */
  private readonly metaPrefixes = new Map<MethodDefinition, Buffer>();
  /** Called once when the channel stops taking new calls (draining or closed). */
  onUnusable: ((channel: Channel) => void) | undefined;
  /** Set by `close()` and GOAWAY: end the socket once the last pending call settles. */
  private endWhenIdle = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ResolvedClientOptions,
    firstRequestId = 0,
  ) {
    this.address = formatEndpoint(endpoint);
    this.ids = new RequestIdAllocator(firstRequestId);
    this.socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    this.decoder = new FrameDecoder((frame) => this.onFrame(frame), options.maxFrameBytes);
    this.writer = new FrameWriter(this.socket);
    this.connectTimer = setTimeout(() => {
      this.socket.destroy(new RpcError(Status.UNAVAILABLE, `connect timeout after ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    this.socket.once('connect', () => {
      clearTimeout(this.connectTimer);
      if (this.state === 'connecting') this.state = 'ready';
      if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: this.address });
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      this.lastError = err;
    });
    this.socket.on('close', () => this.onClose());
  }

  /** True while new calls may be sent here. */
  get usable(): boolean {
    return (this.state === 'connecting' || this.state === 'ready') && !this.ids.exhausted;
  }

  /** Sends a REQUEST and returns its reply; the promise settles exactly once. */
  call(call: ChannelCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const site = { service: call.method.service, method: call.method.name, address: this.address };
      if (!this.usable) {
        reject(new RpcError(Status.UNAVAILABLE, `connection is ${this.state}`, site));
        return;
      }
      if (this.pending.size >= this.options.maxConcurrentRequestsPerConnection) {
        reject(new RpcError(Status.RESOURCE_EXHAUSTED, `too many calls in flight on this connection (limit ${this.options.maxConcurrentRequestsPerConnection})`, site));
        return;
      }
      const id = this.ids.next();
      const pending = new PendingCall(id, call.method, call.signal, resolve, reject, (p) => this.settled(p), call.onMetadata);
      this.pending.set(id, pending);
      if (this.ids.exhausted) this.becomeUnusable('draining');

      if (call.timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          if (pending.done) return;
          pending.reject(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${call.timeoutMs} ms exceeded`, site));
          this.cancel(id);
        }, call.timeoutMs);
      }
      if (call.signal !== undefined) {
        pending.abortListener = () => {
          if (pending.done) return;
          pending.reject(new RpcError(Status.CANCELLED, 'call cancelled by the caller', { ...site, cause: call.signal!.reason }));
          this.cancel(id);
        };
        call.signal.addEventListener('abort', pending.abortListener, { once: true });
      }
      this.send(FrameType.REQUEST, id, call);
    });
  }

  private settled(call: PendingCall): void {
    this.pending.delete(call.requestId);
    if (this.endWhenIdle && this.pending.size === 0 && this.state !== 'closed') this.socket.end();
  }

  /** Sends a ONEWAY (no response will come). */
  notify(call: ChannelCall): void {
    if (!this.usable) throw new RpcError(Status.UNAVAILABLE, `connection is ${this.state}`, { service: call.method.service, method: call.method.name, address: this.address });
    this.send(FrameType.ONEWAY, 0, call);
  }

  private send(type: FrameType, id: number, call: ChannelCall): void {
    const prefix = this.metaPrefix(call.method);
    const { compression, compressionThresholdBytes } = this.options;
    if (compression === 'gzip' && call.body.length >= compressionThresholdBytes) {
      compress(call.body).then(
        (zipped) => this.writeRequest(type, id, prefix, call, zipped, Compression.GZIP),
        () => this.writeRequest(type, id, prefix, call, call.body, Compression.NONE),
      );
      return;
    }
    this.writeRequest(type, id, prefix, call, call.body, Compression.NONE);
  }

  private writeRequest(type: FrameType, id: number, prefix: Buffer, call: ChannelCall, body: Uint8Array, compression: Compression): void {
    if (this.state === 'closed') return;
    if (type === FrameType.REQUEST && !this.pending.has(id)) return; // timed out meanwhile
    const extra = call.timeoutMs > 0 || call.metadata !== undefined || compression !== Compression.NONE
      ? encodeMeta({ timeoutMs: call.timeoutMs, metadata: call.metadata, compression })
      : EMPTY;
    const meta = extra.length === 0 ? prefix : Buffer.concat([prefix, extra]);
    this.writer.frame(type, id, meta, body);
  }

  private metaPrefix(method: MethodDefinition): Buffer {
    let prefix = this.metaPrefixes.get(method);
    if (prefix === undefined) {
      prefix = encodeMeta({ service: method.service, method: method.name });
      this.metaPrefixes.set(method, prefix);
    }
    return prefix;
  }

  /** Tells the server a call was given up (no RESPONSE is owed). */
  private cancel(id: number): void {
    if (this.state === 'ready' || this.state === 'draining' || this.state === 'connecting') {
      this.writer.frame(FrameType.CANCEL, id, EMPTY, EMPTY);
    }
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      const message = err instanceof FrameError ? err.message : `failed to handle a frame: ${(err as Error).message}`;
      this.destroy(new RpcError(Status.INTERNAL, `protocol error from server: ${message}`, { cause: err }));
    }
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.RESPONSE:
        this.onResponse(frame);
        return;
      case FrameType.PING:
        this.writer.frame(FrameType.PONG, frame.requestId, EMPTY, frame.body);
        return;
      case FrameType.PONG:
        return;
      case FrameType.GOAWAY:
        this.onGoAway(decodeMeta(frame.meta));
        return;
      default:
        throw new FrameError(Status.INTERNAL, `unexpected frame type ${frame.type} from a server`);
    }
  }

  private onResponse(frame: Frame): void {
    const pending = this.pending.get(frame.requestId);
    if (pending === undefined) return; // a late answer to a call that timed out or was cancelled
    const meta = decodeMeta(frame.meta);
    const method = pending.method;
    const site = { service: method.service, method: method.name, address: this.address };
    if (meta.status !== Status.OK) {
      pending.reject(new RpcError(meta.status as Status, meta.message, { ...site, metadata: meta.metadata }));
      return;
    }
    if (pending.onMetadata !== undefined && Object.keys(meta.metadata).length > 0) {
      try {
        pending.onMetadata(meta.metadata);
      } catch (err) {
        // The caller's own callback failed: that call fails, the connection does not.
        pending.reject(RpcError.from(err, Status.UNKNOWN, site));
        return;
      }
    }
    if (meta.compression !== Compression.NONE) {
      // The frame's body view pins the socket chunk only until this promise settles.
      decompress(frame.body, meta.compression, this.options.maxFrameBytes).then(
        (plain) => this.deliver(pending, plain, site),
        (err: unknown) => pending.reject(new RpcError(Status.INTERNAL, `reply does not decompress: ${(err as Error).message}`, { ...site, cause: err })),
      );
      return;
    }
    this.deliver(pending, frame.body, site);
  }

  private deliver(pending: PendingCall, body: Uint8Array, site: { service: string; method: string; address: string }): void {
    const type = pending.method.responseType;
    let reply: unknown;
    try {
      reply = type.decode(body);
    } catch (err) {
      pending.reject(new RpcError(Status.INTERNAL, `reply does not decode as ${type.fullName.slice(1)}: ${(err as Error).message}`, { ...site, cause: err }));
      return;
    }
    pending.resolve(reply);
  }

  private onGoAway(meta: Meta): void {
    this.becomeUnusable('draining');
    const reason = meta.message || 'server sent GOAWAY';
    // Requests above last_request_id were never run (spec §GOAWAY).
    for (const [id, pending] of this.pending) {
      if (id > meta.lastRequestId) {
        pending.reject(new RpcError(Status.UNAVAILABLE, `${reason}; the request was not run`, { service: pending.method.service, method: pending.method.name, address: this.address }));
      }
    }
    if (meta.status !== Status.UNAVAILABLE && meta.status !== Status.OK) {
      // A fault GOAWAY (protocol error, limits): the server closes; fail the rest now.
      this.destroy(new RpcError(meta.status as Status, reason));
      return;
    }
    this.endWhenIdle = true;
    if (this.pending.size === 0) this.socket.end();
  }

  /** Closes the connection, rejecting every pending call with `error`'s status. */
  destroy(error?: RpcError): void {
    if (this.state === 'closed') return;
    this.failAll(error ?? new RpcError(Status.UNAVAILABLE, 'connection closed by the client'));
    this.socket.destroy();
  }

  /** Closes once the pending calls have settled. */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.becomeUnusable('draining');
      this.endWhenIdle = true;
      if (this.pending.size === 0) this.socket.end();
    });
  }

  private becomeUnusable(state: 'draining' | 'closed'): void {
    const wasUsable = this.state === 'connecting' || this.state === 'ready';
    if (this.state !== 'closed') this.state = state;
    if (wasUsable) this.onUnusable?.(this);
  }

  private onClose(): void {
    clearTimeout(this.connectTimer);
    this.decoder.stop();
    this.writer.discard();
    const cause = this.lastError;
    const detail = cause ? `${(cause as NodeJS.ErrnoException).code ?? cause.message}` : 'closed by the server';
    const status = cause instanceof RpcError ? cause.code : (cause && statusFromSystemError((cause as NodeJS.ErrnoException).code ?? '')) ?? Status.UNAVAILABLE;
    const failed = status === Status.UNAVAILABLE || status === Status.DEADLINE_EXCEEDED ? Status.UNAVAILABLE : status;
    this.failAll(new RpcError(failed, `connection lost (${detail})`, { cause }));
    this.becomeUnusable('closed');
    if (channels.clientDisconnect.hasSubscribers) channels.clientDisconnect.publish({ address: this.address, error: cause });
  }

  private failAll(error: RpcError): void {
    this.becomeUnusable('closed');
    this.state = 'closed';
    for (const pending of [...this.pending.values()]) {
      const method = pending.method;
      pending.reject(new RpcError(error.code, error.rawMessage, { service: method.service, method: method.name, address: this.address, cause: error.cause ?? error }));
    }
  }
}
