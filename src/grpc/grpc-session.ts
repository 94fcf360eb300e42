import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression, HEADER_BYTES } from '../protocol/constants.js';
import type { FrameBody } from '../protocol/frame.js';
import { decodeMeta, encodeMeta, keyError, type Meta } from '../protocol/meta.js';
import type { Peer } from '../pipeline/handler-context.js';
import { errorMetadata, okMetadata } from '../pipeline/response-meta.js';
import { channels } from '../util/diagnostics.js';
import { CallTable } from '../server/call-table.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import { interceptCall } from '../server/intercept.js';
import { peerOf } from '../server/peer-of.js';
import type { Route } from '../server/router.js';
import { ServerCall, type CallOwner } from '../server/server-call.js';
import type { ConnectionStats } from '../server/server-stats.js';
import { LINGER_MS } from '../server/ended-sockets.js';
import type { GrpcSessionContext } from './builtin-service.js';
import { GrpcExchange } from './grpc-exchange.js';
import { GrpcShutdownHandshake } from './grpc-shutdown-handshake.js';
import { answerOk, openGrpcStream, unservedEncoding } from './grpc-stream.js';
import { GrpcUpload } from './grpc-upload.js';
import { acceptsGzip, GrpcFault, headerValue, parsePath, parseTimeout, readRequestMetadata, type GrpcMessage } from './grpc-wire.js';

const { NGHTTP2_REFUSED_STREAM } = http2.constants;
const EMPTY = new Uint8Array(0);
/**
 * A stream reset this close to its deadline (or later) is the client giving up at its
 * deadline, not a cancel. HTTP/2 says only CANCEL either way, and the server's deadline
 * (the read time plus `grpc-timeout`) trails the client's by the request's transit, about
 * what the reset's own transit takes: without slack, which comes first is a coin toss.
 */
const DEADLINE_SLACK_MS = 20;

/**
 * - `open`: takes calls;
 * - `quiescing`: shutdown's first GOAWAY (last stream id 2^31-1) and a PING are out; calls
 *   the client sent before it read them are still taken, until the PING's answer;
 * - `draining`: the final GOAWAY is out; the calls taken are answered, then the session closes;
 * - `closing`: closed by the server (idle); the socket is ending;
 * - `closed`: the socket is gone.
 */
export type GrpcSessionState = 'open' | 'quiescing' | 'draining' | 'closing' | 'closed';

/**
 * One HTTP/2 connection of gRPC clients (node's `http2` does the framing, flow control,
 * HPACK and PING): each stream is a call that enters the same pipeline as a ringrpc
 * REQUEST: route, admission, interceptors, its lane, and its end booked in a
 * {@link CallTable} (the method's counters, latency, admission slot). The session is the
 * calls' owner: their answers come back here and leave on their streams.
 */
export class GrpcSession implements CallOwner, HostedConnection {
  readonly protocol = 'grpc';
  /** HTTP/2 keeps what it is given to write: a reply gets a buffer of its own. */
  readonly copiesRepliesBelow = 0;
  state: GrpcSessionState = 'open';
  readonly peer: Peer;
  readonly session: ServerHttp2Session;
  /** The calls taken and not yet answered, by stream id. */
  private readonly calls: CallTable;
  /** The stream of each call in {@link calls}. */
  private readonly exchanges = new Map<number, GrpcExchange>();
  /** Calls whose request is still arriving, and since when (`frameTimeoutMs` bounds it, as it bounds a frame). */
  private readonly uploads = new Map<ServerCall, GrpcUpload>();
  /** Streams open (calls, and built-in services' streams, which the call table does not hold). */
  private streams = 0;
  /** This session's reservation against `maxBufferedInputBytes` (messages still arriving, by declared size). */
  private reservedIn = 0;
  private readonly openedAt = Date.now();
  /** A stream opened or DATA arrived since the last sweep. */
  private active = false;
  private lastActive = Date.now();
  private lastPing = Date.now();
  private pinging = false;
  private rttMs: number | undefined;
  /** Shutdown's first step, while `quiescing`. */
  private handshake: GrpcShutdownHandshake | undefined;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(
    private readonly host: ConnectionHost<HostedConnection>,
    readonly socket: Socket,
    private readonly context: GrpcSessionContext,
  ) {
    socket.setNoDelay(true);
    this.peer = peerOf(socket);
    this.calls = new CallTable(() => host.release());
    this.session = http2.performServerHandshake(socket, context.http2Options);
    this.session.on('error', () => {}); // 'close' follows and does the work
    this.session.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.session.on('close', () => this.onClose());
    socket.once('close', () => this.onClose()); // first, at times: the server's close waits on the socket, not the session
    // node ends the socket once a closed session's streams are done (whoever closed it), then
    // waits for the peer to close its side: it lingers as any socket the server ends.
    socket.once('finish', () => host.linger(socket));
    // The client will open no more streams: finish what it asked (node closes the session
    // after). A shutdown waiting for its PING's answer has nothing more to wait for.
    this.session.on('goaway', () => {
      if (this.state === 'open') this.state = 'draining';
      else if (this.state === 'quiescing') this.handshake?.finish();
    });
  }

  stats(): ConnectionStats {
    return {
      peer: `${this.peer.address}:${this.peer.port}`,
      protocol: this.protocol,
      openedAt: this.openedAt,
      inflight: this.calls.size,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rttMs: this.rttMs,
    };
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {}); // a reset stream: 'close' follows
    this.active = true;
    this.streams++;
    stream.once('close', () => this.streamClosed());
    const exchange = new GrpcExchange(stream, acceptsGzip(headers['grpc-accept-encoding']), (n) => this.countOut(n));
    if (this.state !== 'open' && this.state !== 'quiescing') {
      stream.close(NGHTTP2_REFUSED_STREAM); // after the final GOAWAY: never run, safe to send again
      return;
    }
    const contentType = headers['content-type'] ?? '';
    const grpc = contentType === 'application/grpc' || contentType.startsWith('application/grpc+proto') || contentType.startsWith('application/grpc;');
    if (headers[':method'] !== 'POST' || !grpc) {
      exchange.sendHttpError(headers[':method'] !== 'POST' ? 405 : 415);
      stream.resume(); // discard whatever of the request is still coming
      return;
    }
    const path = parsePath(headers[':path']);
    this.host.counters.grpcCalls++;
    if (path === undefined)
      return this.refuse(stream, exchange, Status.UNIMPLEMENTED, `malformed path ${JSON.stringify(headers[':path'])}: expected /package.Service/Method`);
    const route = this.host.router.find(path.service, path.method);
    if (route instanceof RpcError) {
      const builtin = this.context.builtin(path.service);
      if (builtin?.serve(path.method, stream, exchange)) return;
      return this.refuse(stream, exchange, route.code, route.rawMessage);
    }
    const unserved = unservedEncoding(headerValue(headers['grpc-encoding']));
    if (unserved !== undefined) return this.refuse(stream, exchange, Status.UNIMPLEMENTED, unserved);
    this.take(stream, exchange, headers, route, path.service, path.method);
  }

  /** A call that has a route: admitted (or refused, and counted either way), then read and handed to its lane. */
  private take(stream: ServerHttp2Stream, exchange: GrpcExchange, headers: IncomingHttpHeaders, route: Route, service: string, method: string): void {
    const read = { readAt: Date.now(), readAtMono: performance.now() };
    const { metadata, key } = readRequestMetadata(headers);
    let timeoutMs = 0;
    let invalid: RpcError | undefined;
    const timeout = headerValue(headers['grpc-timeout']);
    try {
      if (timeout !== undefined) timeoutMs = parseTimeout(timeout);
    } catch (err) {
      invalid = new RpcError((err as GrpcFault).status, (err as GrpcFault).message);
    }
    const meta: Meta = { service, method, timeoutMs, status: 0, message: '', compression: Compression.NONE, metadata, lastRequestId: 0, key, window: 0 };
    const refusal = this.host.admit(route, false, this.calls.requests, invalid ?? keyError(meta));
    if (refusal !== undefined) return this.refuse(stream, exchange, refusal.code, refusal.rawMessage, errorMetadata(refusal));
    const call = ServerCall.take(this, stream.id!, route, meta, false, read, this.host.options.callTimeoutMs);
    call.plainReplies = !exchange.gzipAccepted;
    this.calls.add(call);
    this.exchanges.set(call.requestId, exchange);

    const encoding = headerValue(headers['grpc-encoding']);
    const reserve = (delta: number): number => (this.reservedIn += delta);
    // A stream method's call gets its runner; a client- or bidirectional one reads its requests through a feed.
    const feed =
      route.method.kind === 'unary'
        ? undefined
        : openGrpcStream(call, route.lane, exchange, encoding === 'gzip', this.host, reserve, (err) => this.fail(call, err));
    const upload = feed?.upload ?? new GrpcUpload(this.host, read.readAt, reserve);
    this.uploads.set(call, upload);
    stream.on('data', (chunk: Buffer) => {
      this.active = true;
      this.bytesIn += chunk.length;
      this.host.counters.bytesIn += chunk.length;
      if (call.ended) return;
      try {
        if (feed === undefined) upload.push(chunk);
        else feed.push(chunk);
      } catch (err) {
        this.fail(call, err);
      }
    });
    stream.on('end', () => {
      this.uploads.delete(call);
      if (call.ended) return;
      try {
        if (feed !== undefined) return feed.end(); // the half-close
        this.submit(call, route, upload.end()!, encoding);
      } catch (err) {
        this.fail(call, err);
      }
    });
    stream.once('close', () => {
      upload.release();
      this.uploads.delete(call);
      this.exchanges.delete(call.requestId);
      if (!call.ended) {
        // The client reset the stream (a cancel, its deadline) or the connection is going.
        const site = `${service}/${method}`;
        this.calls.cancel(
          call,
          Date.now() >= call.deadline - DEADLINE_SLACK_MS
            ? new RpcError(Status.DEADLINE_EXCEEDED, `${site} cancelled by the client: its deadline passed`)
            : new RpcError(Status.CANCELLED, `${site} cancelled by the client`),
        );
      }
    });
    if (feed !== undefined) this.submit(call, route, undefined, encoding); // its requests come as the handler runs
  }

  /**
   * The request's one message is in (none for a client- or bidirectional stream, whose
   * requests follow): to the lane, through the route's interceptors if it has any.
   */
  private submit(call: ServerCall, route: Route, message: GrpcMessage | undefined, encoding: string | undefined): void {
    if (message?.compressed === true && encoding !== 'gzip') {
      return this.fail(call, new GrpcFault(Status.INTERNAL, 'compressed message with grpc-encoding identity (or none)'));
    }
    const meta = call.meta;
    meta.compression = message?.compressed === true ? Compression.GZIP : Compression.NONE;
    // Worker and actor threads decode the Meta themselves (metadata, key); the inline lane reads `call.meta`.
    const needsMeta = route.lane.name !== 'inline' || route.interceptors.length > 0;
    const metaBytes = needsMeta
      ? encodeMeta({ service: meta.service, method: meta.method, compression: meta.compression, metadata: meta.metadata, key: meta.key })
      : EMPTY;
    const body = message?.body ?? EMPTY;
    if (route.interceptors.length === 0) route.lane.submit(call, metaBytes, body);
    else interceptCall(call, route, metaBytes, body);
  }

  /** A call whose request is at fault: answered with the fault's status (an upload still under way is cut, see {@link answer}). */
  private fail(call: ServerCall, err: unknown): void {
    const fault = err instanceof GrpcFault ? err : new GrpcFault(Status.INTERNAL, (err as Error).message);
    this.replyError(call, new RpcError(fault.status, fault.message));
  }

  /** A call answered before it was taken (unknown method, refused); the rest of its request is not read. */
  private refuse(stream: ServerHttp2Stream, exchange: GrpcExchange, status: number, message: string, metadata?: Readonly<Record<string, string>>): void {
    exchange.sendStatus(status, message, metadata);
    stream.resume(); // discard whatever of the request is still coming
  }

  replyOk(call: ServerCall, body: FrameBody, compression: Compression): void {
    if (!this.calls.settle(call, Status.OK)) return;
    const metadata = call.responseMetadataIfSet;
    const exchange = this.answer(call);
    if (exchange !== undefined) answerOk(exchange, call, body, compression, metadata === undefined ? undefined : okMetadata(metadata));
  }

  replyError(call: ServerCall, error: RpcError): void {
    if (!this.calls.settle(call, error.code)) return;
    this.answer(call)?.sendStatus(error.code, error.rawMessage, errorMetadata(error, call.responseMetadataIfSet));
  }

  /** A whole ringrpc RESPONSE frame from a worker or actor thread: its Meta and body, sent the gRPC way. */
  replyFrame(call: ServerCall, status: number, frame: Buffer): void {
    if (!this.calls.settle(call, status)) return;
    const exchange = this.answer(call);
    if (exchange === undefined) return;
    const metaLength = frame.readUInt32BE(8);
    const meta = decodeMeta(frame.subarray(HEADER_BYTES, HEADER_BYTES + metaLength));
    const metadata = Object.keys(meta.metadata).length === 0 ? undefined : meta.metadata;
    if (meta.status === Status.OK) answerOk(exchange, call, frame.subarray(HEADER_BYTES + metaLength), meta.compression, metadata);
    else exchange.sendStatus(meta.status, meta.message, metadata);
  }

  /**
   * The stream a settled call answers on (none if it was reset meanwhile). A call answered
   * before its request arrived whole (a refusal, the server's `callTimeoutMs`) has its
   * upload cut once the answer is out, and its reservation given back.
   */
  private answer(call: ServerCall): GrpcExchange | undefined {
    const exchange = this.exchanges.get(call.requestId);
    this.exchanges.delete(call.requestId);
    const upload = this.uploads.get(call);
    if (upload !== undefined && exchange !== undefined) {
      upload.release();
      this.uploads.delete(call);
      exchange.stopUpload();
    }
    return exchange;
  }

  private countOut(bytes: number): void {
    this.bytesOut += bytes;
    this.host.counters.bytesOut += bytes;
  }

  /**
   * The periodic sweep: a call whose request has not arrived whole within `frameTimeoutMs`
   * is answered DEADLINE_EXCEEDED and its upload cut (slowloris, per call); a session with
   * no stream open and no DATA for the idle limit is closed (GOAWAY, as a ringrpc
   * connection is); otherwise a keepalive PING when due, timing the round trip.
   */
  sweep(now: number, idleMs: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const { frameTimeoutMs } = this.host.options;
    for (const [call, upload] of this.uploads) {
      if (now - upload.since < frameTimeoutMs) continue;
      const message = `request incomplete after ${now - upload.since} ms (frameTimeoutMs ${frameTimeoutMs})`;
      this.fail(call, new GrpcFault(Status.DEADLINE_EXCEEDED, message));
    }
    if (this.active || this.streams > 0) {
      this.active = false;
      this.lastActive = now;
    } else if (this.state === 'open' && now - this.lastActive >= idleMs) {
      this.host.counters.idleClosed++;
      if (channels.serverConnectionClose.hasSubscribers) {
        channels.serverConnectionClose.publish({
          peer: this.stats().peer,
          reason: 'idle',
          status: undefined,
          message: `no stream for ${now - this.lastActive} ms`,
        });
      }
      this.close();
      return;
    }
    if (this.state === 'open' && !this.pinging && now - this.lastPing >= this.host.options.heartbeatIntervalMs) {
      this.lastPing = now;
      this.pinging = true;
      try {
        this.session.ping((err, ms) => {
          this.pinging = false;
          if (err !== null) return;
          this.rttMs = ms;
          this.host.counters.keepaliveRtt.record(ms * 1000);
        });
      } catch {
        this.pinging = false; // the session is going: its 'close' does the rest
      }
    }
  }

  /**
   * Graceful shutdown, as HTTP/2 does it ({@link GrpcShutdownHandshake}): a GOAWAY that
   * takes every stream and a PING; once the wait is over, the final GOAWAY names the last
   * stream taken, and the session closes once they are answered.
   */
  drain(): void {
    if (this.state !== 'open') return;
    this.state = 'quiescing';
    this.handshake = new GrpcShutdownHandshake(this.session, this.streams, () => this.finishDrain());
  }

  private streamClosed(): void {
    this.streams--;
    if (this.streams === 0) this.handshake?.streamsClosed();
  }

  private finishDrain(): void {
    if (this.state !== 'quiescing') return;
    this.state = 'draining';
    this.close();
  }

  /** GOAWAY naming the last stream taken, then close once the open streams end (node waits for them). */
  private close(): void {
    if (this.state === 'open') this.state = 'closing';
    try {
      this.session.close();
    } catch {
      // already closing
    }
    // node ends the socket once the streams are done, then waits for the peer to close its
    // side: bounded here (streams, then a linger), and not past the last write in a shutdown.
    this.host.linger(this.socket, this.host.options.shutdownGraceMs + LINGER_MS);
  }

  /** Force-close (end of the shutdown grace): taken calls are abandoned. */
  destroy(reason: RpcError): void {
    this.calls.abortAll(reason);
    this.session.destroy();
    this.socket.destroy();
  }

  private onClose(): void {
    this.handshake?.cancel();
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.reservedIn !== 0) this.host.reserveInput(-this.reservedIn);
    this.reservedIn = 0;
    if (this.calls.size > 0) this.calls.abortAll(new RpcError(Status.CANCELLED, `client ${this.stats().peer} went away`));
    this.exchanges.clear();
    if (!this.socket.destroyed) this.socket.destroy();
    this.host.connectionClosed(this);
  }
}
