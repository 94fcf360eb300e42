import type { ServerHttp2Stream, ServerSessionOptions } from 'node:http2';
import type { GrpcExchange } from './grpc-exchange.js';

/**
 * A service the gRPC layer answers itself (health, reflection) when no added service has
 * the name. `serve` takes the call's stream; false when the service has no such method.
 */
export interface BuiltinService {
  serve(method: string, stream: ServerHttp2Stream, exchange: GrpcExchange): boolean;
}

/** What a gRPC session needs beyond a ringrpc connection's host: its HTTP/2 settings and the built-in services. */
export interface GrpcSessionContext {
  readonly http2Options: ServerSessionOptions;
  /** The built-in service of that name, if enabled. */
  builtin(service: string): BuiltinService | undefined;
}
