import http2, { type ServerSessionOptions } from 'node:http2';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type protobuf from 'protobufjs';
import { Status } from '../status.js';
import { RINGRPC_ALPN } from '../protocol/constants.js';
import { channels } from '../util/diagnostics.js';
import { SHUTDOWN_PONG_WAIT_MS } from '../server/shutdown-handshake.js';
import type { Reactor } from '../server/reactor.js';
import type { Router } from '../server/router.js';
import type { ResolvedServerOptions } from '../server/server-options.js';
import { DescriptorCatalog } from './descriptor-catalog.js';
import type { BuiltinService, GrpcSessionContext } from './builtin-service.js';
import { GrpcSession } from './grpc-session.js';
import { HealthService } from './health-service.js';
import { ReflectionService } from './reflection-service.js';
import { HEALTH_SERVICE, REFLECTION_SERVICES, standardRoot } from './standard-protos.js';

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
/** The first byte of the HTTP/2 client preface (`PRI * HTTP/2.0…`); every ringrpc frame starts with `R`. */
const PREFACE_FIRST_BYTE = 0x50;
const MIB = 1024 * 1024;

/**
 * gRPC on the server's port. Each accepted socket is told apart by its first byte (the
 * HTTP/2 preface's `P`, or ringrpc's `RR`) or, under TLS, by the ALPN protocol the client
 * negotiated (`h2` or `ringrpc/1`; with neither, by the first byte too). A ringrpc socket
 * goes to the reactor as it would without gRPC; an HTTP/2 one becomes a
 * {@link GrpcSession}, which the reactor keeps like any connection (sweep, shutdown,
 * `maxConnections`, counters). The built-in services (health, reflection) live here.
 */
export class GrpcEndpoint implements GrpcSessionContext {
  readonly http2Options: ServerSessionOptions;
  private readonly builtins = new Map<string, BuiltinService>();
  private readonly health: HealthService | undefined;
  /** Sockets whose first byte has not arrived, and the timer that closes each if none comes. */
  private readonly sniffing = new Map<Socket, NodeJS.Timeout>();

  /**
   * @param serving whether the server is listening (health: SERVING, else NOT_SERVING)
   */
  constructor(
    private readonly reactor: Reactor,
    router: Router,
    private readonly options: ResolvedServerOptions,
    serving: () => boolean,
  ) {
    this.http2Options = {
      settings: {
        enablePush: false,
        maxConcurrentStreams: options.maxConcurrentRequestsPerConnection,
        maxHeaderListSize: options.maxMetaBytes,
      },
      // node's default (10 MB) refuses streams long before 10,000 calls are in flight on
      // one connection; the server's own bounds (in-flight calls, buffered input) apply.
      maxSessionMemory: Math.max(10, Math.ceil(options.maxWriteBufferBytes / MIB)),
    };
    const builtinNames: string[] = [];
    if (options.grpcHealth) builtinNames.push(HEALTH_SERVICE);
    if (options.grpcReflection) builtinNames.push(...REFLECTION_SERVICES);
    const served = (): string[] => [...new Set([...router.serviceNames(), ...builtinNames])];
    if (options.grpcHealth) {
      this.health = new HealthService(serving, (service) => served().includes(service));
      this.builtins.set(HEALTH_SERVICE, this.health);
    }
    if (options.grpcReflection) {
      const roots = function* (): Iterable<protobuf.Root> {
        for (const route of router.routes()) yield route.method.requestType.root;
        yield standardRoot();
      };
      const reflection = new ReflectionService(new DescriptorCatalog(roots, served));
      for (const name of REFLECTION_SERVICES) this.builtins.set(name, reflection);
    }
  }

  /**
   * Shutdown: a socket that has said nothing yet gets as long as a connection's shutdown
   * handshake waits (its first bytes may be on their way: it is handed over, and drained,
   * when they come), then is closed; it took nothing. Health watchers hear NOT_SERVING,
   * and their streams end.
   */
  drain(): void {
    this.health?.shutdown();
    for (const [socket, timer] of this.sniffing) {
      clearTimeout(timer);
      const last = setTimeout(() => {
        this.sniffing.delete(socket);
        socket.destroy();
      }, SHUTDOWN_PONG_WAIT_MS);
      last.unref();
      this.sniffing.set(socket, last);
    }
  }

  builtin(service: string): BuiltinService | undefined {
    return this.builtins.get(service);
  }

  /** A socket accepted on the shared port (after its TLS handshake, under TLS). */
  accept(socket: Socket): void {
    if (socket instanceof TLSSocket) {
      if (socket.alpnProtocol === 'h2') return this.openGrpc(socket);
      if (socket.alpnProtocol === RINGRPC_ALPN) return this.reactor.accept(socket);
    }
    // Past `maxConnections` a socket is refused at once, before it sends anything, as the
    // ringrpc protocol says (an HTTP/2 client reads that GOAWAY frame as a protocol error:
    // UNAVAILABLE); waiting sockets count, so silent ones cannot pile up.
    if (this.reactor.connectionCount + this.sniffing.size >= this.options.maxConnections) {
      this.reactor.counters.refused++;
      this.reactor.refuse(socket);
      if (channels.serverConnectionClose.hasSubscribers) {
        channels.serverConnectionClose.publish({
          peer: `${socket.remoteAddress}:${socket.remotePort}`,
          reason: 'max-connections',
          status: Status.RESOURCE_EXHAUSTED,
          message: `server is at its limit of ${this.options.maxConnections} connections`,
        });
      }
      return;
    }
    this.sniff(socket);
  }

  /**
   * Waits for the first byte, puts it back, and hands the socket on. A socket that stays
   * silent is closed as a ringrpc connection would be, ringrpc being the protocol a socket
   * that says nothing is taken to speak: after the idle limit (ended, counted idle) or
   * `firstFrameTimeoutMs` (GOAWAY DEADLINE_EXCEEDED, counted slow), whichever is shorter.
   */
  private sniff(socket: Socket): void {
    socket.on('error', () => {}); // before the hand-over; 'close' follows
    const { idleTimeoutMs, firstFrameTimeoutMs } = this.options;
    const idle = idleTimeoutMs < firstFrameTimeoutMs;
    const timer = setTimeout(
      () => {
        this.sniffing.delete(socket);
        const message = idle
          ? `no frame for ${idleTimeoutMs} ms`
          : `no REQUEST, ONEWAY or PING within ${firstFrameTimeoutMs} ms of connecting (firstFrameTimeoutMs ${firstFrameTimeoutMs})`;
        if (idle) {
          this.reactor.counters.idleClosed++;
          socket.end();
          this.reactor.linger(socket);
        } else {
          this.reactor.counters.slowClosed++;
          this.reactor.refuse(socket, message, Status.DEADLINE_EXCEEDED);
        }
        if (channels.serverConnectionClose.hasSubscribers) {
          channels.serverConnectionClose.publish({
            peer: `${socket.remoteAddress}:${socket.remotePort}`,
            reason: idle ? 'idle' : 'first-frame-timeout',
            status: idle ? undefined : Status.DEADLINE_EXCEEDED,
            message,
          });
        }
      },
      Math.min(idleTimeoutMs, firstFrameTimeoutMs),
    );
    timer.unref();
    this.sniffing.set(socket, timer);
    const done = (): void => {
      clearTimeout(this.sniffing.get(socket));
      this.sniffing.delete(socket);
    };
    socket.once('close', done);
    socket.once('data', (chunk: Buffer) => {
      done();
      socket.off('close', done);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === PREFACE_FIRST_BYTE) {
        this.openGrpc(socket);
      } else {
        this.reactor.accept(socket);
        socket.resume(); // the connection's read gate pauses it again when it must
      }
    });
  }

  private openGrpc(socket: Socket): void {
    this.reactor.adopt(
      socket,
      (host, s) => {
        host.counters.grpcAccepted++;
        return new GrpcSession(host, s, this);
      },
      (s, message) => this.refuse(s, message),
    );
  }

  /** One HTTP/2 connection too many: GOAWAY ENHANCE_YOUR_CALM with the reason, then close. */
  private refuse(socket: Socket, message: string): void {
    socket.on('error', () => {});
    const session = http2.performServerHandshake(socket, this.http2Options);
    session.on('error', () => {});
    session.on('stream', (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    // After the client's SETTINGS: a GOAWAY before them reads to node's client as a protocol error.
    session.once('remoteSettings', () => session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from(message)));
    setTimeout(() => session.destroy(), 1000).unref();
  }
}
