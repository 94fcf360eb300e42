import type net from 'node:net';
import type { MethodDefinition } from '../codec/service-definition.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';
import { FrameWriter } from '../transport/frame-writer.js';
import { connectSocket } from '../transport/connect.js';
import { Compression, FrameType, NOT_RUN_METADATA_KEY } from '../protocol/constants.js';
import { decompress } from '../protocol/compression.js';
import { FrameDecoder, FrameError } from '../protocol/frame-decoder.js';
import type { Frame } from '../protocol/frame.js';
import { decodeMeta, encodeMeta, type Meta } from '../protocol/meta.js';
import { RequestIdAllocator } from '../protocol/request-id-allocator.js';
import { channels } from '../util/diagnostics.js';
import type { ResolvedConnectionOptions } from './client-options.js';
import { Keepalive } from './keepalive.js';
import { closeError, type ChannelCloseReason, type ChannelState } from './channel-close.js';
import { PendingCall, type CallListener, type PendingOwner } from './pending-call.js';
import { IdTable } from '../util/id-table.js';
import { endRead, readingConnection, startRead } from './read-affinity.js';
import { RequestWriter, type ChannelCall } from './request-writer.js';

/** How a channel tells its owner about its life. */
export interface ChannelEvents {
  /** Connected (after the TLS handshake, with TLS). */
  ready?(channel: Channel): void;
  /**
   * The server's first frame arrived (the PONG to the greeting PING, at the latest): the
   * connection really works. A connection that closes before this counts as a failed
   * connect, not a lost one: under TLS 1.3 a server refuses a client certificate only
   * after the client's handshake has completed.
   */
  heard?(channel: Channel): void;
  /** Stopped taking new calls (draining or closed); called once. */
  unusable?(channel: Channel): void;
  /** The socket is gone. `error` is what broke it, if anything did. */
  closed?(channel: Channel, reason: ChannelCloseReason, error: Error | undefined): void;
}

const EMPTY = Buffer.alloc(0);
/** A CANCEL's Meta when the call's deadline passed, so that the server counts DEADLINE_EXCEEDED (an empty one: CANCELLED). */
const DEADLINE_CANCEL_META = encodeMeta({ status: Status.DEADLINE_EXCEEDED });

/**
 * One multiplexed connection to one server: thousands of calls in flight, matched by
 * request_id. Owns each call's deadline and cancellation and the connection's keepalive;
 * a lost connection rejects every pending call at once with UNAVAILABLE.
 */
export class Channel implements PendingOwner {
  state: ChannelState = 'connecting';
  readonly address: string;
  readonly pending = new IdTable<PendingCall>('own');
  /** Round-trip time of the last keepalive PING answered, in ms. */
  rttMs: number | undefined;
  /** When a call last settled here or a ONEWAY left (`Date.now()`), for idle closing. */
  lastUsedAt = Date.now();
  /** When the read being decoded arrived: a call answered in it settled then (a clock read per read, not per call). */
  private readAt = 0;
  private readonly socket: net.Socket;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly requests: RequestWriter;
  private readonly ids: RequestIdAllocator;
  private connectTimer: NodeJS.Timeout | undefined;
  private keepalive: Keepalive | undefined;
  private everReady = false;
  /** TCP is up and the TLS handshake is under way (an error now is a TLS error). */
  private handshaking = false;
  private closeReason: ChannelCloseReason | undefined;
  /** True once the server sent a GOAWAY for shutdown (not for a fault): it is going away. */
  goneAway = false;
  private lastError: Error | undefined;
  /** Set by `close()` and GOAWAY: end the socket once the last pending call settles. */
  private endWhenIdle = false;
  /** Any frame ever arrived (a TLS peer that closes before one may have refused our certificate). */
  private everHeard = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ResolvedConnectionOptions,
    private readonly events: ChannelEvents = {},
    /** Close after the first call is sent (a pool with `enabled: false`). */
    private readonly singleUse = false,
  ) {
    this.address = formatEndpoint(endpoint);
    this.ids = new RequestIdAllocator(0);
    const secure = options.tls !== undefined;
    this.socket = connectSocket(endpoint, options.tls);
    this.socket.setNoDelay(true);
    this.decoder = new FrameDecoder((frame) => this.onFrame(frame), options.maxFrameBytes);
    // Flushed once per turn of the event loop, from a slab: see WriterHooks.flushOn.
    this.writer = new FrameWriter(this.socket, { flushOn: 'turn', slabBytes: 64 * 1024 });
    // A REQUEST whose gzip finishes after the call timed out, or the socket closed, is dropped.
    this.requests = new RequestWriter(this.writer, (type, id) => this.state !== 'closed' && (type !== FrameType.REQUEST || this.pending.has(id)));
    this.connectTimer = setTimeout(() => {
      this.socket.destroy(new RpcError(Status.UNAVAILABLE, `connect timeout after ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    this.socket.once(secure ? 'secureConnect' : 'connect', () => this.onConnect());
    if (secure) this.socket.once('connect', () => (this.handshaking = true));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      this.lastError ??= err;
    });
    this.socket.on('close', () => this.onClose());
  }

  /** True while new calls may be sent here. */
  get usable(): boolean {
    return (this.state === 'connecting' || this.state === 'ready') && !this.ids.exhausted;
  }

  private onConnect(): void {
    clearTimeout(this.connectTimer);
    this.everReady = true;
    if (this.state === 'connecting') this.state = 'ready';
    if (this.options.keepalive) {
      this.keepalive = new Keepalive(this.options.heartbeatIntervalMs, this.options.heartbeatMissLimit, {
        sendPing: (id) => this.writer.frame(FrameType.PING, id, EMPTY, EMPTY),
        answered: (rttMs) => {
          this.rttMs = rttMs;
          if (channels.clientKeepalive.hasSubscribers) channels.clientKeepalive.publish({ address: this.address, rttMs });
        },
        dead: (missed) => {
          const error = new RpcError(
            Status.UNAVAILABLE,
            `keepalive timeout: ${this.address} answered none of ${missed} PINGs sent every ${this.options.heartbeatIntervalMs} ms`,
          );
          this.destroy(error, 'lost');
        },
      });
    }
    // A PING first thing: a server closes a connection that says nothing for its
    // firstFrameTimeoutMs, and a pool may open one well before its first call. It also
    // gives the first round-trip time. It leaves with the first request when there is one.
    if (this.keepalive !== undefined) this.keepalive.probe();
    else this.writer.frame(FrameType.PING, 0, EMPTY, EMPTY);
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: this.address });
    this.events.ready?.(this);
  }

  /** Sends a REQUEST and returns its reply; the promise settles exactly once. */
  call(call: ChannelCall): Promise<unknown> {
    return new Promise((resolve, reject) => this.start(call, { onReply: resolve, onError: reject }));
  }

  /**
   * Sends a REQUEST; `listener` hears its reply or its error exactly once — at once (before
   * this returns) when the channel cannot take the call, later otherwise. The promise-free
   * form of {@link call}, for the client's own calls. Returns the call in flight (undefined
   * when it was refused at once), which a stream ends itself by.
   */
  start(call: ChannelCall, listener: CallListener): PendingCall | undefined {
    if (!this.usable) {
      listener.onError(new RpcError(Status.UNAVAILABLE, `connection is ${this.state}`, { ...this.site(call.method), notRun: 'unsent' }));
      return;
    }
    if (this.pending.size >= this.options.maxConcurrentRequestsPerConnection) {
      listener.onError(
        new RpcError(Status.RESOURCE_EXHAUSTED, `too many calls in flight on this connection (limit ${this.options.maxConcurrentRequestsPerConnection})`, {
          ...this.site(call.method),
          notRun: 'unsent',
        }),
      );
      return;
    }
    const id = this.ids.next();
    const pending = new PendingCall(id, call, listener, this);
    this.pending.set(id, pending);
    if (this.ids.exhausted) this.becomeUnusable('draining');
    this.requests.write(FrameType.REQUEST, id, call);
    if (this.singleUse) void this.close();
    return pending;
  }

  /** The call site of errors: built only when one is raised. */
  private site(method: MethodDefinition): { service: string; method: string; address: string } {
    return { service: method.service, method: method.name, address: this.address };
  }

  /** @internal A call's deadline passed (see {@link PendingOwner}). */
  expired(pending: PendingCall): void {
    const call = pending.call;
    pending.reject(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${call.callTimeoutMs ?? call.timeoutMs} ms exceeded`, this.site(call.method)));
    this.write(FrameType.CANCEL, pending.requestId, DEADLINE_CANCEL_META);
  }

  /** @internal A call's caller aborted it (see {@link PendingOwner}). */
  aborted(pending: PendingCall): void {
    const call = pending.call;
    pending.reject(new RpcError(Status.CANCELLED, 'call cancelled by the caller', { ...this.site(call.method), cause: call.signal!.reason }));
    this.write(FrameType.CANCEL, pending.requestId);
  }

  /** @internal A call settled (see {@link PendingOwner}). */
  settled(call: PendingCall): void {
    this.pending.delete(call.requestId);
    this.lastUsedAt = readingConnection() === this ? this.readAt : Date.now();
    if (this.endWhenIdle && this.pending.size === 0 && this.state !== 'closed') this.writer.end();
  }

  /** Sends a ONEWAY (no response will come). */
  notify(call: ChannelCall): void {
    if (!this.usable) throw new RpcError(Status.UNAVAILABLE, `connection is ${this.state}`, { ...this.site(call.method), notRun: 'unsent' });
    this.lastUsedAt = Date.now();
    this.requests.write(FrameType.ONEWAY, 0, call);
    if (this.singleUse) void this.close();
  }

  /** @internal Writes a frame of a call in flight (CANCEL, its `meta` saying why; a stream's MESSAGE, HALF_CLOSE, CREDIT); none once closed. */
  write(type: FrameType, id: number, meta: Uint8Array = EMPTY, body: Uint8Array = EMPTY): void {
    if (this.state !== 'closed') this.writer.frame(type, id, meta, body);
  }

  private onData(chunk: Buffer): void {
    // One clock read per read, not per call settled in it (lastUsedAt only drives idle closing).
    this.readAt = Date.now();
    startRead(this);
    try {
      this.decoder.push(chunk);
    } catch (err) {
      const message = err instanceof FrameError ? err.message : `failed to handle a frame: ${(err as Error).message}`;
      this.destroy(new RpcError(Status.INTERNAL, `protocol error from server: ${message}`, { cause: err }), 'lost');
    } finally {
      endRead();
    }
  }

  private onFrame(frame: Frame): void {
    // The server's own PINGs (it measures RTT with them) do not count: the server evicts
    // connections it hears nothing from, so an idle client must still send its PINGs.
    if (frame.type !== FrameType.PING) this.keepalive?.heard();
    if (!this.everHeard) {
      this.everHeard = true;
      this.events.heard?.(this);
    }
    switch (frame.type) {
      case FrameType.RESPONSE:
        this.onResponse(frame);
        return;
      case FrameType.PING:
        if (!this.socket.writableEnded) this.writer.frame(FrameType.PONG, frame.requestId, EMPTY, frame.body);
        return;
      case FrameType.PONG:
        this.keepalive?.pong(frame.requestId);
        return;
      case FrameType.GOAWAY:
        this.onGoAway(decodeMeta(frame.meta));
        return;
      case FrameType.MESSAGE:
      case FrameType.CREDIT:
        // Ignored for a call no longer in flight (it crossed the stream's end) or not a stream (spec §Streams).
        this.pending.get(frame.requestId)?.call.stream?.onFrame(frame);
        return;
      default:
        throw new FrameError(Status.INTERNAL, `unexpected frame type ${frame.type} from a server`);
    }
  }

  private onResponse(frame: Frame): void {
    const pending = this.pending.get(frame.requestId);
    if (pending === undefined) return; // a late answer to a call that timed out or was cancelled
    // An empty meta is the common answer: OK, no metadata, no compression.
    if (frame.meta.length === 0) return this.deliver(pending, frame.body);
    const meta = decodeMeta(frame.meta);
    const site = this.site(pending.method);
    if (meta.status !== Status.OK) {
      // Admission refusals say so in the metadata: the handler never ran (spec §ringrpc-not-run).
      const notRun = meta.metadata[NOT_RUN_METADATA_KEY] === '1' ? 'refused' : undefined;
      pending.reject(new RpcError(meta.status as Status, meta.message, { ...site, metadata: meta.metadata, notRun }));
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
        (plain) => this.deliver(pending, plain),
        (err: unknown) => pending.reject(new RpcError(Status.INTERNAL, `reply does not decompress: ${(err as Error).message}`, { ...site, cause: err })),
      );
      return;
    }
    this.deliver(pending, frame.body);
  }

  private deliver(pending: PendingCall, body: Uint8Array): void {
    const type = pending.method.responseType;
    let reply: unknown;
    try {
      reply = type.decode(body);
    } catch (err) {
      pending.reject(
        new RpcError(Status.INTERNAL, `reply does not decode as ${type.fullName.slice(1)}: ${(err as Error).message}`, {
          ...this.site(pending.method),
          cause: err,
        }),
      );
      return;
    }
    pending.resolve(reply);
  }

  private onGoAway(meta: Meta): void {
    // UNAVAILABLE (or OK) is a server shutting down; any other status is a refusal or a fault.
    const fault = meta.status !== Status.UNAVAILABLE && meta.status !== Status.OK;
    if (!fault) this.goneAway = true;
    this.becomeUnusable('draining');
    const reason = meta.message || 'server sent GOAWAY';
    // Requests above last_request_id were never run (spec §GOAWAY): safe to send again.
    for (const [id, pending] of this.pending.entries()) {
      if (id > meta.lastRequestId) {
        const site = this.site(pending.method);
        pending.reject(
          new RpcError(fault ? (meta.status as Status) : Status.UNAVAILABLE, `${reason}; the request was not run`, {
            ...site,
            notRun: fault ? 'refused' : 'goaway',
          }),
        );
      }
    }
    if (fault) {
      // The server closes; fail the rest (which may have run) now.
      this.destroy(new RpcError(meta.status as Status, reason), 'refused');
      return;
    }
    this.closeReason ??= 'goaway';
    this.endWhenIdle = true;
    // Ended after this turn: a server shutting down in two steps sends a PING with its first
    // GOAWAY, and its PONG (queued in this turn) must leave first.
    if (this.pending.size === 0) setImmediate(() => this.writer.end());
  }

  /** Closes the connection now, rejecting every pending call with `error`'s status. */
  destroy(error?: RpcError, reason: ChannelCloseReason = 'closed'): void {
    if (this.state === 'closed') return;
    this.closeReason ??= reason;
    if (reason !== 'closed' && error !== undefined) this.lastError ??= error;
    this.failAll(error ?? new RpcError(Status.UNAVAILABLE, 'connection closed by the client'));
    this.socket.destroy();
  }

  /** Closes once the pending calls have settled. */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.closeReason ??= 'closed';
      this.becomeUnusable('draining');
      this.endWhenIdle = true;
      if (this.pending.size === 0) this.writer.end();
    });
  }

  private becomeUnusable(state: 'draining' | 'closed'): void {
    const wasUsable = this.state === 'connecting' || this.state === 'ready';
    if (this.state !== 'closed') this.state = state;
    if (wasUsable) this.events.unusable?.(this);
  }

  private onClose(): void {
    clearTimeout(this.connectTimer);
    this.keepalive?.stop();
    this.decoder.stop();
    this.writer.discard();
    const cause = this.lastError;
    const quietEnd = this.everReady && cause === undefined && this.pending.size === 0;
    this.failAll(
      closeError(cause, { everReady: this.everReady, everHeard: this.everHeard, tls: this.options.tls !== undefined, handshaking: this.handshaking }),
    );
    // Set by whoever closed it (this process, a GOAWAY, a fault); otherwise the peer did.
    const reason = this.closeReason ?? (!this.everReady || !this.everHeard ? 'connect-failed' : quietEnd ? 'ended' : 'lost');
    if (channels.clientDisconnect.hasSubscribers) channels.clientDisconnect.publish({ address: this.address, reason, error: cause });
    this.events.closed?.(this, reason, cause);
  }

  /** Rejects every pending call with `error`'s status and text, and its `notRun`. */
  private failAll(error: RpcError): void {
    this.becomeUnusable('closed');
    this.state = 'closed';
    for (const pending of this.pending.snapshot()) {
      const method = pending.method;
      pending.reject(
        new RpcError(error.code, error.rawMessage, {
          service: method.service,
          method: method.name,
          address: this.address,
          cause: error.cause ?? error,
          notRun: error.notRun,
        }),
      );
    }
  }
}
