import type { Socket } from 'node:net';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { FrameType, type Compression } from '../protocol/constants.js';
import { RttProbe } from './rtt-probe.js';
import { peerOf } from './peer-of.js';
import { interceptCall } from './intercept.js';
import { ConnectionClock } from './connection-clock.js';
import { FrameDecoder, FrameError } from '../protocol/frame-decoder.js';
import { bodyLength, type Frame, type FrameBody } from '../protocol/frame.js';
import { decodeMeta, encodeMeta, keyError, MetaError, type Meta } from '../protocol/meta.js';
import { COPY_BELOW_BYTES, FrameWriter } from '../transport/frame-writer.js';
import { channels } from '../util/diagnostics.js';
import type { Peer } from '../pipeline/handler-context.js';
import { errorMeta, okMeta } from '../pipeline/response-meta.js';
import { ServerCall, type CallOwner } from './server-call.js';
import { CallTable } from './call-table.js';
import { ShutdownHandshake } from './shutdown-handshake.js';
import { ReadGate } from './read-gate.js';
import { onStreamFrame, openStream, type StreamConnection } from './server-stream.js';
import type { ConnectionHost } from './connection-host.js';
import type { ConnectionStats } from './server-stats.js';

/**
 * - `open`: takes requests;
 * - `quiescing`: shutdown's first GOAWAY (`last_request_id` 0xFFFFFFFF) and a PING are sent;
 *   it still takes what the client wrote before it read them, until the PONG comes back
 *   (or a bounded wait passes; see {@link ShutdownHandshake});
 * - `draining`: the final GOAWAY is sent; answers what it took, then ends the socket;
 * - `closing`: GOAWAY sent after a fault (or idle/overflow close); the socket is ending;
 * - `closed`: the socket is gone.
 */
export type ServerConnectionState = 'open' | 'quiescing' | 'draining' | 'closing' | 'closed';

/** Why the server closes a connection itself, as `ringrpc:server:connection-close` publishes it. */
type CloseReason = 'protocol-error' | 'oversized' | 'frame-timeout' | 'first-frame-timeout' | 'idle' | 'write-stalled';

const EMPTY = Buffer.alloc(0);

/**
 * One accepted socket: frames in, routed calls out to a lane, responses back through
 * a coalescing {@link FrameWriter}. Implements the spec's bad-input table for everything
 * that is about the connection (GOAWAY rows); per-call rows are answered as RESPONSEs.
 */
export class ServerConnection implements CallOwner, StreamConnection {
  state: ServerConnectionState = 'open';
  readonly protocol = 'ringrpc';
  /** Its writer copies small frames into the batch as it takes them. */
  readonly copiesRepliesBelow = COPY_BELOW_BYTES;
  readonly peer: Peer;
  /** The calls taken here and not yet answered. */
  private readonly calls: CallTable;
  private readonly decoder: FrameDecoder;
  readonly writer: FrameWriter;
  private readonly clock: ConnectionClock;
  /** Whether the socket is read: not while the peer ignores its answers, nor past a turn's read budget. */
  private readonly gate: ReadGate;
  /** This connection's reservation against `maxBufferedInputBytes` (its partial frame's declared size). */
  private reservedIn = 0;
  private handshake: ShutdownHandshake | undefined;
  bytesIn = 0;
  bytesOut = 0;
  /** The server's keepalive PINGs on this connection (`probe.rttMs`: the last round trip). */
  readonly probe: RttProbe;

  constructor(
    private readonly host: ConnectionHost<ServerConnection>,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    this.probe = new RttProbe(host.options.heartbeatIntervalMs);
    this.clock = new ConnectionClock(host.options);
    this.calls = new CallTable(() => host.release());
    this.peer = peerOf(socket);
    this.decoder = new FrameDecoder((frame) => this.onFrame(frame), host.options.maxFrameBytes, host.options.maxMetaBytes);
    this.writer = new FrameWriter(socket, {
      maxBufferedBytes: host.options.maxWriteBufferBytes,
      onBackpressure: () => this.pauseUntilDrained(),
      onOverflow: (bytes) => this.closeStalled(`peer is not reading: ${bytes} bytes unsent (maxWriteBufferBytes ${host.options.maxWriteBufferBytes})`),
    });
    this.gate = new ReadGate(socket, () => this.state === 'open' || this.state === 'quiescing' || this.state === 'draining');
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
      protocol: this.protocol,
      openedAt: this.clock.openedAt,
      inflight: this.calls.size,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rttMs: this.probe.rttMs,
    };
  }

  private onData(chunk: Buffer): void {
    this.host.counters.bytesIn += chunk.length;
    this.bytesIn += chunk.length;
    const now = this.clock.stamp();
    this.gate.spend(chunk.length);
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // A malformed or oversized header, or (a bug) anything thrown while handling a frame:
      // this connection goes away, the process keeps serving everyone else.
      const status = err instanceof FrameError ? err.status : Status.INTERNAL;
      this.goAwayAndClose(status, (err as Error).message, status === Status.RESOURCE_EXHAUSTED ? 'oversized' : 'protocol-error');
      return;
    }
    this.clock.read(now, this.decoder.hasPartialFrame);
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
    this.goAwayAndClose(
      Status.RESOURCE_EXHAUSTED,
      `frame of ${wanted} bytes refused: the server holds ${this.host.counters.bufferedIn} bytes of incomplete frames (maxBufferedInputBytes ${maxBufferedInputBytes})`,
      'oversized',
    );
  }

  private onFrame(frame: Frame): void {
    this.clock.frame(frame.type);
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
        if (this.handshake?.pong(frame.requestId)) return; // every request written before our GOAWAY was read is in
        const rttMs = this.probe.answered(frame.requestId);
        if (rttMs !== undefined) this.host.counters.keepaliveRtt.record(rttMs * 1000);
        return;
      }
      case FrameType.CANCEL:
        this.calls.cancelFrame(frame.requestId, frame.meta);
        this.endIfDrained();
        return;
      case FrameType.GOAWAY:
        // The client sends nothing more here; finish what it asked, then close.
        this.handshake?.finish();
        if (this.state === 'open') this.state = 'draining';
        this.endIfDrained();
        return;
      case FrameType.RESPONSE:
        this.goAwayAndClose(Status.INTERNAL, 'unexpected RESPONSE frame: a client does not send responses');
        return;
      default: // MESSAGE, HALF_CLOSE, CREDIT: frames of a stream
        onStreamFrame(this, this.calls, frame);
    }
  }

  private onRequest(frame: Frame, oneway: boolean): void {
    const id = frame.requestId;
    if (!oneway) {
      if (id === 0) return this.goAwayAndClose(Status.INTERNAL, 'REQUEST with request_id 0');
      if (this.calls.get(id) !== undefined) return this.goAwayAndClose(Status.INTERNAL, `REQUEST with request_id ${id}, already in flight on this connection`);
    }
    let meta: Meta;
    try {
      meta = decodeMeta(frame.meta);
    } catch (err) {
      const status = err instanceof MetaError ? err.status : Status.INTERNAL;
      return this.goAwayAndClose(status, (err as Error).message, status === Status.RESOURCE_EXHAUSTED ? 'oversized' : 'protocol-error');
    }
    if (this.state !== 'open' && this.state !== 'quiescing') return; // after our final GOAWAY: neither run nor answered (spec §GOAWAY)
    if (!oneway && id > this.calls.lastTaken) this.calls.lastTaken = id; // taken, even if refused below

    const route = oneway ? this.host.router.findUnary(meta.service, meta.method, 'as ONEWAY') : this.host.router.find(meta.service, meta.method);
    if (route instanceof RpcError) {
      if (!oneway) this.writeError(id, route);
      return;
    }
    const refusal = this.host.admit(route, oneway, this.calls.requests, keyError(meta));
    if (refusal !== undefined) {
      if (!oneway) this.writeError(id, refusal);
      return;
    }
    const call = ServerCall.take(this, id, route, meta, oneway, this.clock, this.host.options.callTimeoutMs);
    this.calls.add(call);
    if (route.method.kind !== 'unary') openStream(this, call, route.lane, this.host.options.maxFrameBytes);
    if (route.interceptors.length === 0) route.lane.submit(call, frame.meta, frame.body);
    else interceptCall(call, route, frame.meta, frame.body);
  }

  replyOk(call: ServerCall, body: FrameBody, compression: Compression): void {
    if (!this.calls.settle(call, Status.OK)) return;
    if (!call.oneway) this.writeFrame(FrameType.RESPONSE, call.requestId, okMeta(call.responseMetadataIfSet, compression), body);
    this.endIfDrained();
  }

  replyError(call: ServerCall, error: RpcError): void {
    if (!this.calls.settle(call, error.code)) return;
    if (!call.oneway) this.writeError(call.requestId, error, call.responseMetadataIfSet);
    else if (channels.serverOnewayError.hasSubscribers) channels.serverOnewayError.publish({ service: call.service, method: call.method, error });
    this.endIfDrained();
  }

  replyFrame(call: ServerCall, status: number, frame: Buffer): void {
    if (!this.calls.settle(call, status)) return;
    if (!call.oneway && this.state !== 'closed' && this.state !== 'closing') {
      this.writer.push(frame);
      this.countOut(frame.length);
    }
    this.endIfDrained();
  }

  private writeError(requestId: number, error: RpcError, metadata?: Record<string, string>): void {
    this.writeFrame(FrameType.RESPONSE, requestId, errorMeta(error, metadata), EMPTY);
  }

  /** Writes a frame that answers or streams (not once the connection is going). */
  writeFrame(type: FrameType, requestId: number, meta: Uint8Array, body: FrameBody): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.writer.frame(type, requestId, meta, body);
    this.countOut(16 + meta.length + bodyLength(body));
  }

  private countOut(bytes: number): void {
    this.host.counters.bytesOut += bytes;
    this.bytesOut += bytes;
  }

  /** Graceful shutdown: the two-step GOAWAY, then answer what was taken, then end. */
  drain(): void {
    if (this.state !== 'open') return;
    this.state = 'quiescing';
    this.handshake = new ShutdownHandshake(
      (type, id, meta) => this.writer.frame(type, id, meta, EMPTY),
      () => {
        // Step two: the final GOAWAY; from here on, a new request is neither run nor answered.
        if (this.state !== 'quiescing') return; // a fault closed it meanwhile
        this.state = 'draining';
        this.writer.frame(
          FrameType.GOAWAY,
          0,
          encodeMeta({ status: Status.UNAVAILABLE, message: 'server is shutting down', lastRequestId: this.calls.lastTaken }),
          EMPTY,
        );
        this.endIfDrained();
      },
    );
  }

  private endIfDrained(): void {
    if (this.state === 'draining' && this.calls.size === 0) this.end();
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
    const meta = encodeMeta({ status, message, lastRequestId: this.calls.lastTaken });
    this.writer.frame(FrameType.GOAWAY, 0, meta, EMPTY);
    if (reason === 'protocol-error') this.host.counters.faultClosed++;
    if (reason === 'oversized') this.host.counters.oversizedClosed++;
    if (reason !== undefined) this.publishClose(reason, status, message);
    this.calls.abortAll(new RpcError(status, `connection from ${this.peerAddress} closed: ${message}`));
    this.end();
  }

  /**
   * Sweep, called periodically by the server: closes the connection if its clock says so
   * (a stalled reader, a slow frame, a silent start, idleness), else sends the keepalive
   * PING when one is due.
   */
  sweep(now: number, idleMs: number): void {
    if (this.state === 'closed') return;
    const open = this.state === 'open';
    const verdict = this.clock.verdict(now, idleMs, {
      taking: open || this.state === 'quiescing',
      open,
      busy: this.calls.size > 0,
      bufferedBytes: this.decoder.bufferedBytes,
      unsentBytes: this.socket.writableLength,
    });
    switch (verdict?.reason) {
      case 'write-stalled':
        this.closeStalled(verdict.message);
        return;
      case 'frame-timeout':
      case 'first-frame-timeout':
        this.host.counters.slowClosed++;
        this.publishClose(verdict.reason, Status.DEADLINE_EXCEEDED, verdict.message);
        this.goAwayAndClose(Status.DEADLINE_EXCEEDED, verdict.message);
        return;
      case 'idle':
        this.host.counters.idleClosed++;
        this.publishClose('idle', undefined, verdict.message);
        this.decoder.stop();
        this.end();
        return;
    }
    const ping = open ? this.probe.due(now) : undefined;
    if (ping !== undefined) {
      this.writer.frame(FrameType.PING, ping, EMPTY, EMPTY);
      this.countOut(16);
    }
  }

  /** Force-close (end of the shutdown grace): taken calls are abandoned. */
  destroy(reason: RpcError): void {
    this.calls.abortAll(reason);
    this.writer.discard();
    this.socket.destroy();
  }

  private end(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.handshake?.cancel();
    this.reserveInput(); // nothing more is read: the reservation goes
    this.writer.flush();
    this.socket.end();
    this.host.linger(this.socket); // for the peer to read the GOAWAY; not past shutdown's last write
  }

  /**
   * Backpressure: read no more requests from this peer until its responses drain, and
   * close it if the server-wide bound on unsent bytes is passed.
   */
  private pauseUntilDrained(): void {
    if (!this.clock.stalled) {
      this.clock.stall(true);
      this.host.setStalled(this, true);
      this.gate.hold('output');
      this.socket.once('drain', () => {
        this.clock.stall(false);
        this.host.setStalled(this, false);
        this.gate.release('output');
      });
    }
    // A peer that is not reading waits, unless all such peers together hold too much.
    const { maxBufferedOutputBytes } = this.host.options;
    const total = this.host.bufferedOutBytes();
    if (total > maxBufferedOutputBytes) {
      this.closeStalled(`peer is not reading, and the server holds ${total} unsent bytes for such peers (maxBufferedOutputBytes ${maxBufferedOutputBytes})`);
    }
  }

  private closeStalled(message: string): void {
    this.host.counters.overflowClosed++;
    this.publishClose('write-stalled', Status.RESOURCE_EXHAUSTED, message);
    this.destroy(new RpcError(Status.RESOURCE_EXHAUSTED, `connection from ${this.peerAddress} closed: ${message}`));
  }

  private onClose(): void {
    this.handshake?.cancel();
    const wasBusy = this.calls.size > 0;
    this.state = 'closed';
    this.reserveInput();
    this.host.setStalled(this, false);
    if (wasBusy) this.calls.abortAll(new RpcError(Status.CANCELLED, `client ${this.peerAddress} went away`));
    this.writer.discard();
    this.host.connectionClosed(this);
  }

  private publishClose(reason: CloseReason, status: Status | undefined, message: string): void {
    if (channels.serverConnectionClose.hasSubscribers) {
      channels.serverConnectionClose.publish({ peer: this.peerAddress, reason, status, message });
    }
  }
}
