import type { Socket } from 'node:net';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { FrameType, type Compression } from '../protocol/constants.js';
import { RttProbe } from './rtt-probe.js';
import { FrameDecoder, FrameError } from '../protocol/frame-decoder.js';
import type { Frame } from '../protocol/frame.js';
import { decodeMeta, encodeMeta, MetaError } from '../protocol/meta.js';
import { FrameWriter } from '../transport/frame-writer.js';
import { channels } from '../util/diagnostics.js';
import type { Peer } from '../pipeline/handler-context.js';
import { errorMeta, okMeta } from '../pipeline/response-meta.js';
import type { Router } from './router.js';
import { ServerCall, type CallOwner } from './server-call.js';
import type { ResolvedServerOptions } from './server-options.js';
import type { ConnectionCounters, ConnectionStats } from './server-stats.js';

/**
 * - `open`: takes requests;
 * - `quiescing`: shutdown's first GOAWAY (`last_request_id` 0xFFFFFFFF) and a PING are sent;
 *   it still takes what the client wrote before it read them, until the PONG comes back
 *   (or {@link QUIESCE_WAIT_MS} passes);
 * - `draining`: the final GOAWAY is sent; answers what it took, then ends the socket;
 * - `closing`: GOAWAY sent after a fault (or idle/overflow close); the socket is ending;
 * - `closed`: the socket is gone.
 */
export type ServerConnectionState = 'open' | 'quiescing' | 'draining' | 'closing' | 'closed';

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly options: ResolvedServerOptions;
  readonly router: Router;
  readonly counters: ConnectionCounters;
  /** Takes a slot of the server-wide in-flight limit; false when the server is full. */
  admit(): boolean;
  /** Gives a slot back. */
  release(): void;
  /**
   * Changes this connection's share of the server-wide bound on buffered input by `delta`
   * bytes; false (and nothing reserved) when a growth would pass `maxBufferedInputBytes`.
   */
  reserveInput(delta: number): boolean;
  /** The peer stopped reading (`true`) or caught up (`false`): its unsent bytes count server-wide. */
  setStalled(connection: ServerConnection, stalled: boolean): void;
  /** Unsent response bytes of every stalled connection. */
  bufferedOutBytes(): number;
  connectionClosed(connection: ServerConnection): void;
}

/** Why the server closes a connection itself, as `ringrpc:server:connection-close` publishes it. */
type CloseReason = 'protocol-error' | 'oversized' | 'frame-timeout' | 'first-frame-timeout' | 'idle' | 'write-stalled';

const EMPTY = Buffer.alloc(0);
/** How long an ended socket may linger before it is destroyed. */
const LINGER_MS = 1000;
/** `last_request_id` of shutdown's first GOAWAY: "no new requests, but all you sent will be taken". */
const ANY_REQUEST_ID = 0xffff_ffff;
/** The id of shutdown's PING (the keepalive probe's ids stay below 2^31, so they never clash). */
const QUIESCE_PING_ID = 0xffff_ffff;
/**
 * How long shutdown waits for the PONG that follows its first GOAWAY before it sends the
 * final one anyway: a peer that does not answer PINGs costs a restart this much, no more.
 */
export const QUIESCE_WAIT_MS = 1000;

/**
 * One accepted socket: frames in, routed calls out to a lane, responses back through
 * a coalescing {@link FrameWriter}. Implements the spec's bad-input table for everything
 * that is about the connection (GOAWAY rows); per-call rows are answered as RESPONSEs.
 */
export class ServerConnection implements CallOwner {
  state: ServerConnectionState = 'open';
  readonly peer: Peer;
  /** REQUESTs taken and not yet answered, by request_id. */
  readonly calls = new Map<number, ServerCall>();
  /** ONEWAY calls still running (they have no usable id). */
  readonly oneways = new Set<ServerCall>();
  /** Highest request_id taken, sent as GOAWAY's `last_request_id`. */
  private lastTaken = 0;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  /** Set on every complete frame; the idle sweep reads and clears it (no clock per frame). */
  private sawFrame = false;
  private lastActive = Date.now();
  /** When the partial frame now buffered started to arrive (0: none buffered). */
  private partialSince = 0;
  /** Since when writes wait for 'drain' (0: they do not). */
  private stalledSince = 0;
  /** This connection's reservation against `maxBufferedInputBytes` (its partial frame's declared size). */
  private reservedIn = 0;
  /** True once a REQUEST, ONEWAY or PING arrived (see `firstFrameTimeoutMs`). */
  private greeted = false;
  /**
   * When the current chunk was read: the start of the deadline of every request in it
   * (spec: timeout_ms counts "from when it has read the frame"), so a request queued
   * behind a slow inline handler in the same read does not get extra time.
   */
  private readAt = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private quiesceTimer: NodeJS.Timeout | undefined;
  readonly openedAt = Date.now();
  bytesIn = 0;
  bytesOut = 0;
  /** The server's keepalive PINGs on this connection (`probe.rttMs`: the last round trip). */
  readonly probe: RttProbe;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    this.probe = new RttProbe(host.options.heartbeatIntervalMs);
    this.peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.decoder = new FrameDecoder((frame) => this.onFrame(frame), host.options.maxFrameBytes, host.options.maxMetaBytes);
    this.writer = new FrameWriter(socket, {
      maxBufferedBytes: host.options.maxWriteBufferBytes,
      onBackpressure: () => this.pauseUntilDrained(),
      onOverflow: (bytes) => this.closeForOverflow(bytes),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {}); // 'close' follows and does the work
    socket.on('close', () => this.onClose());
  }

  /** `host:port` of the peer, for messages. */
  get peerAddress(): string {
    return `${this.peer.address}:${this.peer.port}`;
  }

  /** This connection as {@link Server.connectionStats} lists it. */
  stats(): ConnectionStats {
    return {
      peer: this.peerAddress,
      openedAt: this.openedAt,
      inflight: this.calls.size + this.oneways.size,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rttMs: this.probe.rttMs,
    };
  }

  /** True while calls taken here are unanswered. */
  get busy(): boolean {
    return this.calls.size > 0 || this.oneways.size > 0;
  }

  private onData(chunk: Buffer): void {
    this.host.counters.bytesIn += chunk.length;
    this.bytesIn += chunk.length;
    this.readAt = Date.now();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // A malformed or oversized header, or (a bug) anything thrown while handling a frame:
      // this connection goes away, the process keeps serving everyone else.
      const status = err instanceof FrameError ? err.status : Status.INTERNAL;
      this.goAwayAndClose(status, (err as Error).message, status === Status.RESOURCE_EXHAUSTED ? 'oversized' : 'protocol-error');
      return;
    }
    if (!this.decoder.hasPartialFrame) this.partialSince = 0;
    else if (this.partialSince === 0) this.partialSince = this.readAt;
    this.reserveInput();
  }

  /**
   * Holds the partial frame's declared size against the server-wide input bound, so that
   * many connections each sending most of a large frame are refused at their headers.
   */
  private reserveInput(): void {
    const wanted = this.state === 'closing' || this.state === 'closed' ? 0 : this.decoder.pendingFrameBytes;
    const delta = wanted - this.reservedIn;
    if (delta === 0) return;
    if (this.host.reserveInput(delta)) {
      this.reservedIn = wanted;
      return;
    }
    const { maxBufferedInputBytes } = this.host.options;
    this.goAwayAndClose(Status.RESOURCE_EXHAUSTED, `frame of ${wanted} bytes refused: the server holds ${this.host.counters.bufferedIn} bytes of incomplete frames (maxBufferedInputBytes ${maxBufferedInputBytes})`, 'oversized');
  }

  private onFrame(frame: Frame): void {
    // A PONG answers our own PING: it says the peer is alive, not that it uses the
    // connection, so it does not hold off idle eviction.
    if (frame.type !== FrameType.PONG) this.sawFrame = true;
    if (frame.type === FrameType.REQUEST || frame.type === FrameType.ONEWAY || frame.type === FrameType.PING) this.greeted = true;
    switch (frame.type) {
      case FrameType.REQUEST:
        this.onRequest(frame, false);
        return;
      case FrameType.ONEWAY:
        this.onRequest(frame, true);
        return;
      case FrameType.PING:
        // Answered at once, from the reactor: never queued behind handler work.
        this.writer.frame(FrameType.PONG, frame.requestId, EMPTY, frame.body);
        return;
      case FrameType.PONG: {
        if (frame.requestId === QUIESCE_PING_ID && this.state === 'quiescing') {
          this.finishQuiescing(); // every request written before our GOAWAY was read is in
          return;
        }
        const rttMs = this.probe.answered(frame.requestId);
        if (rttMs !== undefined) this.host.counters.keepaliveRtt.record(rttMs * 1000);
        return;
      }
      case FrameType.CANCEL: {
        const call = this.calls.get(frame.requestId);
        if (call !== undefined) {
          this.endCall(call);
          call.abort(new RpcError(Status.CANCELLED, `${call.service}/${call.method} cancelled by the client`));
        }
        return;
      }
      case FrameType.GOAWAY:
        // The client sends nothing more here; finish what it asked, then close.
        if (this.state === 'quiescing') this.finishQuiescing();
        if (this.state === 'open') this.state = 'draining';
        this.endIfDrained();
        return;
      case FrameType.RESPONSE:
        this.goAwayAndClose(Status.INTERNAL, 'unexpected RESPONSE frame: a client does not send responses');
        return;
    }
  }

  private onRequest(frame: Frame, oneway: boolean): void {
    const id = frame.requestId;
    if (!oneway) {
      if (id === 0) return this.goAwayAndClose(Status.INTERNAL, 'REQUEST with request_id 0');
      if (this.calls.has(id)) return this.goAwayAndClose(Status.INTERNAL, `REQUEST with request_id ${id}, already in flight on this connection`);
    }
    let meta;
    try {
      meta = decodeMeta(frame.meta);
    } catch (err) {
      const status = err instanceof MetaError ? err.status : Status.INTERNAL;
      return this.goAwayAndClose(status, (err as Error).message, status === Status.RESOURCE_EXHAUSTED ? 'oversized' : 'protocol-error');
    }
    if (this.state !== 'open' && this.state !== 'quiescing') return; // after our final GOAWAY: neither run nor answered (spec §GOAWAY)
    if (!oneway && id > this.lastTaken) this.lastTaken = id;

    const route = this.host.router.find(meta.service, meta.method);
    if (route instanceof RpcError) {
      if (!oneway) this.writeError(id, route);
      return;
    }
    route.stats.requests++;
    const limit = this.host.options.maxConcurrentRequestsPerConnection;
    if (!oneway && this.calls.size >= limit) {
      route.stats.recordError(Status.RESOURCE_EXHAUSTED);
      this.writeError(id, new RpcError(Status.RESOURCE_EXHAUSTED, `too many requests in flight on this connection (limit ${limit})`, { notRun: 'refused' }));
      return;
    }
    if (!this.host.admit()) {
      route.stats.recordError(Status.RESOURCE_EXHAUSTED);
      if (!oneway) this.writeError(id, new RpcError(Status.RESOURCE_EXHAUSTED, `server is at its limit of ${this.host.options.maxConcurrentRequests} requests in flight`, { notRun: 'refused' }));
      return;
    }
    // The client's deadline, unless the server's own limit comes first.
    const clientDeadline = meta.timeoutMs > 0 ? this.readAt + meta.timeoutMs : Infinity;
    const limitMs = this.host.options.callTimeoutMs;
    const call = limitMs > 0 && this.readAt + limitMs < clientDeadline
      ? new ServerCall(this, id, route, meta, this.readAt + limitMs, oneway, limitMs)
      : new ServerCall(this, id, route, meta, clientDeadline, oneway);
    if (oneway) this.oneways.add(call);
    else this.calls.set(id, call);
    route.stats.inflight++;
    route.lane.submit(call, frame.meta, frame.body);
  }

  replyOk(call: ServerCall, body: Uint8Array, compression: Compression): void {
    if (!call.finish()) return;
    this.endCall(call);
    call.route.stats.ok++;
    call.route.stats.recordLatency(call.startedAt);
    if (call.oneway) return;
    this.writeResponse(call.requestId, okMeta(call.responseMetadataIfSet, compression), body);
  }

  replyError(call: ServerCall, error: RpcError): void {
    if (!call.finish()) return;
    this.endCall(call);
    call.route.stats.recordError(error.code);
    call.route.stats.recordLatency(call.startedAt);
    if (call.oneway) {
      if (channels.serverOnewayError.hasSubscribers) channels.serverOnewayError.publish({ service: call.service, method: call.method, error });
      return;
    }
    this.writeError(call.requestId, error, call.responseMetadataIfSet);
  }

  replyFrame(call: ServerCall, status: number, frame: Buffer): void {
    if (!call.finish()) return;
    this.endCall(call);
    if (status === Status.OK) call.route.stats.ok++;
    else call.route.stats.recordError(status);
    call.route.stats.recordLatency(call.startedAt);
    if (call.oneway || this.state === 'closed' || this.state === 'closing') return;
    this.writer.push(frame);
    this.host.counters.bytesOut += frame.length;
    this.bytesOut += frame.length;
    this.endIfDrained();
  }

  private writeError(requestId: number, error: RpcError, metadata?: Record<string, string>): void {
    this.writeResponse(requestId, errorMeta(error, metadata), EMPTY);
  }

  private writeResponse(requestId: number, meta: Uint8Array, body: Uint8Array): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.writer.frame(FrameType.RESPONSE, requestId, meta, body);
    this.host.counters.bytesOut += 16 + meta.length + body.length;
    this.bytesOut += 16 + meta.length + body.length;
    this.endIfDrained();
  }

  private endCall(call: ServerCall): void {
    if (call.oneway) {
      if (!this.oneways.delete(call)) return;
    } else if (this.calls.get(call.requestId) !== call || !this.calls.delete(call.requestId)) {
      return;
    }
    call.route.stats.inflight--;
    this.host.release();
  }

  /**
   * Graceful shutdown in two steps (spec §GOAWAY), so that no call has to be re-sent: a
   * GOAWAY that takes everything the client has sent, and a PING; when its PONG arrives,
   * every request written before the client read the GOAWAY has arrived too, and the final
   * GOAWAY carries the real `last_request_id`.
   */
  drain(): void {
    if (this.state !== 'open') return;
    this.state = 'quiescing';
    this.writer.frame(FrameType.GOAWAY, 0, encodeMeta({ status: Status.UNAVAILABLE, message: 'server is shutting down', lastRequestId: ANY_REQUEST_ID }), EMPTY);
    this.writer.frame(FrameType.PING, QUIESCE_PING_ID, EMPTY, EMPTY);
    this.quiesceTimer = setTimeout(() => this.finishQuiescing(), QUIESCE_WAIT_MS);
    this.quiesceTimer.unref();
  }

  /** Shutdown, step two: the final GOAWAY; from here on, a new request is neither run nor answered. */
  private finishQuiescing(): void {
    if (this.state !== 'quiescing') return;
    clearTimeout(this.quiesceTimer);
    this.state = 'draining';
    const meta = encodeMeta({ status: Status.UNAVAILABLE, message: 'server is shutting down', lastRequestId: this.lastTaken });
    this.writer.frame(FrameType.GOAWAY, 0, meta, EMPTY);
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.state === 'draining' && !this.busy) this.end();
  }

  /**
   * A fault: GOAWAY with its status and message, then close (spec §bad input). `reason`
   * counts and publishes the close; a caller that did both itself passes none.
   */
  goAwayAndClose(status: Status, message: string, reason?: 'protocol-error' | 'oversized'): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.decoder.stop();
    // Read nothing more: a peer refused for a huge frame would otherwise have the rest of
    // it read (and dropped) during the linger, at the reactor's expense.
    this.socket.pause();
    const meta = encodeMeta({ status, message, lastRequestId: this.lastTaken });
    this.writer.frame(FrameType.GOAWAY, 0, meta, EMPTY);
    if (reason === 'protocol-error') this.host.counters.faultClosed++;
    if (reason === 'oversized') this.host.counters.oversizedClosed++;
    if (reason !== undefined) this.publishClose(reason, status, message);
    this.abortAll(new RpcError(status, `connection from ${this.peerAddress} closed: ${message}`));
    this.end();
  }

  /**
   * Sweep, called periodically by the server: closes a connection that sent no complete
   * frame for `idleMs` while none of its calls is in flight, and one whose partial frame
   * has been arriving for longer than `frameTimeoutMs`.
   */
  sweep(now: number, idleMs: number): void {
    const { frameTimeoutMs, writeTimeoutMs } = this.host.options;
    if (this.stalledSince !== 0 && now - this.stalledSince >= writeTimeoutMs && this.state !== 'closed') {
      this.closeStalled(`peer is not reading: ${this.socket.writableLength} bytes unsent for ${now - this.stalledSince} ms (writeTimeoutMs ${writeTimeoutMs})`);
      return;
    }
    if (this.partialSince !== 0 && now - this.partialSince >= frameTimeoutMs && (this.state === 'open' || this.state === 'quiescing')) {
      this.host.counters.slowClosed++;
      const buffered = this.decoder.bufferedBytes;
      this.publishClose('frame-timeout', Status.DEADLINE_EXCEEDED, `${buffered} bytes of an incomplete frame after ${now - this.partialSince} ms`);
      this.goAwayAndClose(Status.DEADLINE_EXCEEDED, `frame incomplete after ${now - this.partialSince} ms (${buffered} bytes in; frameTimeoutMs ${frameTimeoutMs})`);
      return;
    }
    const { firstFrameTimeoutMs } = this.host.options;
    if (!this.greeted && now - this.openedAt >= firstFrameTimeoutMs && this.state === 'open') {
      this.host.counters.slowClosed++;
      const message = `no REQUEST, ONEWAY or PING within ${now - this.openedAt} ms of connecting (firstFrameTimeoutMs ${firstFrameTimeoutMs})`;
      this.publishClose('first-frame-timeout', Status.DEADLINE_EXCEEDED, message);
      this.goAwayAndClose(Status.DEADLINE_EXCEEDED, message);
      return;
    }
    const ping = this.state === 'open' ? this.probe.due(now) : undefined;
    if (ping !== undefined) {
      this.writer.frame(FrameType.PING, ping, EMPTY, EMPTY);
      this.host.counters.bytesOut += 16;
      this.bytesOut += 16;
    }
    if (this.sawFrame || this.busy) {
      this.sawFrame = false;
      this.lastActive = now;
      return;
    }
    if (this.state === 'open' && now - this.lastActive >= idleMs) {
      this.host.counters.idleClosed++;
      this.publishClose('idle', undefined, `no frame for ${now - this.lastActive} ms`);
      this.decoder.stop();
      this.end();
    }
  }

  /** Force-close (end of the shutdown grace): taken calls are abandoned. */
  destroy(reason: RpcError): void {
    this.abortAll(reason);
    this.writer.discard();
    this.socket.destroy();
  }

  private end(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.reserveInput(); // nothing more is read: the reservation goes
    this.writer.flush();
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  /**
   * Backpressure: read no more requests from this peer until its responses drain, and
   * close it if the server-wide bound on unsent bytes is passed.
   */
  private pauseUntilDrained(): void {
    if (this.stalledSince === 0) {
      this.stalledSince = Date.now();
      this.host.setStalled(this, true);
      this.socket.pause();
      this.socket.once('drain', () => {
        this.stalledSince = 0;
        this.host.setStalled(this, false);
        if (this.state !== 'closed') this.socket.resume();
      });
    }
    // A peer that is not reading waits, unless all such peers together hold too much.
    const { maxBufferedOutputBytes } = this.host.options;
    const total = this.host.bufferedOutBytes();
    if (total > maxBufferedOutputBytes) {
      this.closeStalled(`peer is not reading, and the server holds ${total} unsent bytes for such peers (maxBufferedOutputBytes ${maxBufferedOutputBytes})`);
    }
  }

  private closeForOverflow(bytes: number): void {
    this.closeStalled(`peer is not reading: ${bytes} bytes unsent (maxWriteBufferBytes ${this.host.options.maxWriteBufferBytes})`);
  }

  private closeStalled(message: string): void {
    this.host.counters.overflowClosed++;
    this.publishClose('write-stalled', Status.RESOURCE_EXHAUSTED, message);
    this.destroy(new RpcError(Status.RESOURCE_EXHAUSTED, `connection from ${this.peerAddress} closed: ${message}`));
  }

  private abortAll(reason: RpcError): void {
    for (const call of [...this.calls.values(), ...this.oneways]) {
      this.endCall(call);
      call.abort(reason);
    }
  }

  private onClose(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    clearTimeout(this.quiesceTimer);
    const wasBusy = this.busy;
    this.state = 'closed';
    this.reserveInput();
    this.host.setStalled(this, false);
    if (wasBusy) this.abortAll(new RpcError(Status.CANCELLED, `client ${this.peerAddress} went away`));
    this.writer.discard();
    this.host.connectionClosed(this);
  }

  private publishClose(reason: CloseReason, status: Status | undefined, message: string): void {
    if (channels.serverConnectionClose.hasSubscribers) {
      channels.serverConnectionClose.publish({ peer: this.peerAddress, reason, status, message });
    }
  }
}
