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

/**
 * `grpc.health.v1.Health/Check`: the server's health, or one service's. SERVING while the
 * server listens, NOT_SERVING from the start of its shutdown; the same for every service
 * it serves (their handlers share its lifecycle), and NOT_FOUND for a service it does not
 * serve, as the health protocol asks. `Watch` is a server stream, which ringrpc does not
 * have yet (issue 24): it answers UNIMPLEMENTED, which clients read as "no health
 * checking".
 */
export class HealthService implements BuiltinService {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;

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
    if (method !== 'Check') return false;
    let service: string | undefined;
    readRequests(
      stream,
      (body) => {
        if (service !== undefined) throw new Error('a second request message on a unary call');
        service = (this.request.decode(body) as unknown as { service: string }).service;
      },
      () => {
        if (service === undefined) exchange.sendStatus(Status.INTERNAL, 'request stream ended without a message: a unary call takes one', undefined);
        else this.answer(service, exchange);
      },
      (fault) => exchange.sendStatus(fault.status, fault.message, undefined),
    );
    return true;
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
}
