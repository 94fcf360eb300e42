import type { ServerHttp2Stream } from 'node:http2';
import type protobuf from 'protobufjs';
import { Status } from '../status.js';
import type { GrpcExchange } from './grpc-exchange.js';
import type { BuiltinService } from './builtin-service.js';
import { readRequests } from './request-reader.js';
import { standardRoot } from './standard-protos.js';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

/** An open `Watch`: the service it names, the status it was last sent, and its stream. */
interface Watcher {
  readonly service: string;
  sent: number;
  readonly exchange: GrpcExchange;
}

/**
 * `grpc.health.v1.Health/Check`: the server's health, or one service's. SERVING while the
 * server listens, NOT_SERVING from the start of its shutdown; the same for every service
 * it serves (their handlers share its lifecycle), and NOT_FOUND for a service it does not
 * serve, as the health protocol asks.
 *
 * `Watch` (a server stream) sends the status at once and again whenever it changes: the
 * server tells it so ({@link shutdown}: NOT_SERVING, then the stream ends UNAVAILABLE, the
 * server going away). A service it does not serve is SERVICE_UNKNOWN, and the stream stays
 * open (as grpc-go's health server does: it may be added). The stream also ends when the
 * client cancels it.
 */
export class HealthService implements BuiltinService {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;
  private readonly watchers = new Set<Watcher>();

  /**
   * @param serving whether the server is listening (not starting, not shutting down)
   * @param serves whether it serves a service of that name
   */
  constructor(
    private readonly serving: () => boolean,
    private readonly serves: (service: string) => boolean,
  ) {
    const root = standardRoot();
    this.request = root.lookupType('grpc.health.v1.HealthCheckRequest');
    this.response = root.lookupType('grpc.health.v1.HealthCheckResponse');
  }

  serve(method: string, stream: ServerHttp2Stream, exchange: GrpcExchange): boolean {
    if (method !== 'Check' && method !== 'Watch') return false;
    let service: string | undefined;
    readRequests(
      stream,
      (body) => {
        if (service !== undefined) throw new Error(`a second request message on ${method}, which takes one`);
        service = (this.request.decode(body) as unknown as { service: string }).service;
      },
      () => {
        if (service === undefined) exchange.sendStatus(Status.INTERNAL, `request stream ended without a message: ${method} takes one`, undefined);
        else if (method === 'Check') this.answer(service, exchange);
        else this.watch(service, stream, exchange);
      },
      (fault) => exchange.sendStatus(fault.status, fault.message, undefined),
    );
    return true;
  }

  /** The server's status may have changed: each watcher whose status did is sent the new one. */
  changed(): void {
    for (const watcher of this.watchers) {
      const status = this.status(watcher.service) ?? SERVICE_UNKNOWN;
      if (status !== watcher.sent) this.send(watcher, status);
    }
  }

  /** The server shuts down: watchers learn NOT_SERVING (or their service's status), then their streams end. */
  shutdown(): void {
    this.changed();
    for (const watcher of this.watchers) watcher.exchange.sendStatus(Status.UNAVAILABLE, 'server is shutting down', undefined);
    this.watchers.clear();
  }

  /** The status of `service` (`''`: the server's). */
  status(service: string): number | undefined {
    if (service !== '' && !this.serves(service)) return undefined;
    return this.serving() ? SERVING : NOT_SERVING;
  }

  private answer(service: string, exchange: GrpcExchange): void {
    const status = this.status(service);
    if (status === undefined) {
      exchange.sendStatus(Status.NOT_FOUND, `unknown service ${JSON.stringify(service)}`, undefined);
      return;
    }
    exchange.sendOk(this.response.encode({ status }).finish(), 0, undefined);
  }

  private watch(service: string, stream: ServerHttp2Stream, exchange: GrpcExchange): void {
    if (!exchange.writable) return;
    const watcher: Watcher = { service, sent: -1, exchange };
    this.watchers.add(watcher);
    stream.once('close', () => this.watchers.delete(watcher));
    exchange.open();
    this.send(watcher, this.status(service) ?? SERVICE_UNKNOWN);
  }

  private send(watcher: Watcher, status: number): void {
    watcher.sent = status;
    watcher.exchange.writeMessage(this.response.encode({ status }).finish());
  }
}
